"""CoNLL-2003 NER fine-tuning: a tag per word, scored by entities.

Data: the shared task's column files in either layout (`eng.train`,
`eng.testa`, `eng.testb` or `train.txt`, `valid.txt`, `test.txt`); IOB1 or
IOB2 tags, both read as IOB2 (`bert_tf.data.conll`). Each sentence is
packed as `[CLS] pieces [SEP]` (split into windows when too long) and
`BertTokenTagger` gives 9 tag logits per piece. Loss: cross-entropy at the
first piece of each word only (`label_weights`), averaged over words.

Evaluation: each word's tag is the argmax at its first piece, repaired to
valid IOB2; entity-level precision, recall and F1 as conlleval computes
them (seqeval's default mode: an entity counts only if its type and both
boundaries match), overall (micro-averaged) and per type, plus conlleval's
token accuracy. `text_precision`, `text_recall` and `text_f1` score the
entities the NER export finds in the sentences' text, where a CoNLL token
such as `U.S.` is several words (`data.text_entity_scores`). The test
split is labelled, so --do_eval scores dev and
test; --do_predict writes `conll2003_<split>_predictions.txt`
(`token gold predicted`, blank line between sentences), which
`conlleval < FILE` reads.
"""

import dataclasses
import os

import numpy as np
from seqeval import metrics as seqeval_metrics
from seqeval.metrics import sequence_labeling

from bert_tf import losses
from bert_tf import models
from bert_tf.tasks import base
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.token_classification import data as conll_data

TASK_NAMES = ("conll2003",)
SEQUENCE_FEATURES = ("input_word_ids", "input_type_ids", "label_ids",
                     "label_weights")


def predictions_file(split):
    return f"conll2003_{split}_predictions.txt"


def entity_metrics(gold, predicted):
    """Entity-level scores as conlleval computes them, through seqeval.

    Args:
        gold: list (one per sentence) of lists of tags (IOB1 or IOB2).
        predicted: the same shape.

    Returns:
        {"precision", "recall", "f1"} (micro-averaged over all entities),
        "<TYPE>_precision", "<TYPE>_recall", "<TYPE>_f1" for each of
        PER, ORG, LOC, MISC (0.0 for a type neither side has), and
        "accuracy" (per-token tag accuracy, as conlleval prints it); plain
        floats, 0.0 where a ratio is 0/0.
    """
    if [len(s) for s in gold] != [len(s) for s in predicted]:
        raise ValueError("gold and predicted tags differ in sentence count "
                         "or lengths")
    # seqeval's default mode (not mode="strict") chunks as conlleval does.
    gold, predicted = [list(s) for s in gold], [list(s) for s in predicted]
    overall = (0.0, 0.0, 0.0)
    per_type = {kind: (0.0, 0.0, 0.0) for kind in conll_data.ENTITY_TYPES}
    # seqeval's per-type arrays follow the sorted types found on either side.
    kinds = sorted({kind for tags in (gold, predicted)
                    for kind, _, _ in sequence_labeling.get_entities(tags)})
    if kinds:  # (with none, seqeval would warn on empty means)
        overall = _precision_recall_f1(gold, predicted, average="micro")
        per_type.update(zip(kinds, zip(*_precision_recall_f1(
            gold, predicted, average=None))))
    results = {}
    for prefix, values in [("", overall)] + [
            (f"{kind}_", values) for kind, values in per_type.items()]:
        for metric, value in zip(("precision", "recall", "f1"), values):
            results[prefix + metric] = float(value)
    results["accuracy"] = float(seqeval_metrics.accuracy_score(
        gold, predicted)) if any(gold) else 0.0
    return results


def _precision_recall_f1(gold, predicted, average):
    return sequence_labeling.precision_recall_fscore_support(
        gold, predicted, average=average, zero_division=0)[:3]


@dataclasses.dataclass(frozen=True)
class Description(base.TaskDescription):
    """A NER model's task: `labels`, the IOB2 tags in logit order."""

    labels: tuple = conll_data.TAGS


class Task(base.Task):
    """CoNLL-2003 NER as fine-tuning needs it (see bert_tf/finetuning.py)."""

    name = "conll2003"
    eval_splits = ("dev", "test")
    test_splits = ("test",)
    accepted_models = ("conll2003",)
    loss_fn = staticmethod(losses.token_classification_loss)
    keras_targets = {"logits": "label_ids"}
    keras_sample_weight = "label_weights"

    def __init__(self, name="conll2003"):
        del name  # one task in this family

    def read(self, data_dir, split):
        return conll_data.read_split(data_dir, split)

    def features(self, tokenizer, examples, max_seq_length):
        """One input per sentence, or per window of a long one."""
        return conll_data.features(tokenizer, examples, max_seq_length)

    def dataset(self, tokenizer, features, batching):
        sequences = {name: [getattr(f, name) for f in features]
                     for name in SEQUENCE_FEATURES}
        return finetuning_data.pretokenized_dataset(
            sequences, {}, batching, pad_id=tokenizer.pad_id)

    def build_model(self, encoder):
        return models.BertTokenTagger(encoder,
                                      num_tags=len(conll_data.TAGS))

    def predictions(self, examples, features, outputs):
        """Word-level IOB2 tags, one list per sentence."""
        return conll_data.predicted_tags(examples, features,
                                         np.asarray(outputs["logits"]))

    def evaluate(self, examples, features, outputs):
        results = entity_metrics(
            [e.tags for e in examples],
            self.predictions(examples, features, outputs))
        results.update(conll_data.text_entity_scores(
            examples, features, np.asarray(outputs["logits"])))
        return results

    def write_predictions(self, output_dir, split, examples, features,
                          outputs):
        os.makedirs(output_dir, exist_ok=True)
        path = os.path.join(output_dir, predictions_file(split))
        conll_data.write_predictions(
            path, examples, self.predictions(examples, features, outputs))
        return path

    def description(self, max_seq_length, lower_case):
        """What an export needs to serve the model (bert_tf_model.json)."""
        return Description(name=self.name, family="token_classification",
                           max_seq_length=max_seq_length,
                           lower_case=lower_case, labels=conll_data.TAGS)
