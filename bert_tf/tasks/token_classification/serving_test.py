"""The two implementations of NER's windowing and tag repair agree:
serving.py (in the graph, for exports) tags every word of a text as
data.py's `features` + `predicted_tags` (Python, for evaluation and the
predictions file) do, and its entities are the runs those tags form.
Beside them so that a change to one meets the other.
(tests/served_matches_evaluated_test.py checks the same on the real
CoNLL-2003 files and MiniLM, through a saved export.)"""

import os
import tempfile

import keras
import tensorflow as tf

from bert_tf import configs
from bert_tf import models
from bert_tf import tokenization
from bert_tf.layers import encoder as encoder_lib
from bert_tf.tasks.token_classification import data
from bert_tf.tasks.token_classification import serving
from bert_tf.tasks.token_classification import task

_WORDS = ("anna berg flew from oslo to lima , un ##believ ##ably . cafe "
          "naive in 東 京").split()


def _tokenizer():
    path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                           *_WORDS]) + "\n")
    return tokenization.BertTokenizer(path, lower_case=True)


class ServingTagsAsEvaluationTest(tf.test.TestCase):

    def test_served_tags_and_entities_are_the_evaluated_ones(self):
        keras.utils.set_random_seed(0)
        tokenizer = _tokenizer()
        model = models.BertTokenTagger(encoder_lib.BertEncoder(
            configs.BertConfig(vocab_size=tokenizer.vocab_size,
                               hidden_size=16, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=32,
                               max_position_embeddings=32)),
            num_tags=len(data.TAGS))
        # max_seq_length 8: windows of 6 pieces, cut between words.
        module = serving.TokenClassificationServing(
            model, tokenizer, task.Description(
                "conll2003", "token_classification", max_seq_length=8,
                lower_case=True))
        module.signatures()
        texts = ["Anna Berg flew from Oslo to Lima, unbelievably.", "",
                 "naïve café in 東京 " * 3, "Zanzibar Oslo Lima Anna Berg"]
        served = {name: value.numpy() for name, value in
                  module.serve_text(tf.constant(texts)).items()}

        def strings(row, name, count):
            return [v.decode() for v in served[name][row][:count]]

        counts = served["num_words"].tolist()
        self.assertEqual(counts, [10, 0, 15, 5])
        sentences = [data.Sentence(guid=str(i),
                                   words=tuple(strings(i, "words", n)),
                                   tags=("O",) * n)
                     for i, n in enumerate(counts) if n]
        features = data.features(tokenizer, sentences, 8)
        inputs = tokenizer.model_inputs(
            tf.ragged.constant([f.input_word_ids for f in features]),
            tf.ragged.constant([f.input_type_ids for f in features]))
        expected = data.predicted_tags(
            sentences, features, model(inputs)["logits"].numpy())
        self.assertEqual([strings(i, "tags", n)
                          for i, n in enumerate(counts) if n], expected)
        self.assertGreater(sum(tag != "O" for tags in expected
                               for tag in tags), 3)
        for i, text in enumerate(texts):
            starts, ends = served["word_starts"][i], served["word_ends"][i]
            self.assertEqual([text[a:b] for a, b in zip(starts, ends)
                              ][:counts[i]], strings(i, "words", counts[i]))
            found = served["num_entities"][i]
            entities = [(text[a:b], kind.decode()) for a, b, kind in zip(
                served["entity_starts"][i], served["entity_ends"][i],
                served["entity_types"][i])][:found]
            self.assertEqual(entities, _entities(
                text, starts, ends, strings(i, "tags", counts[i])))


def _entities(text, starts, ends, tags):
    """(text, type) of each entity of valid IOB2 `tags`, by hand."""
    found = []
    for start, end, tag in zip(starts, ends, tags):
        if tag.startswith("B-"):
            found.append([start, end, tag[2:]])
        elif tag.startswith("I-"):
            found[-1][1] = end
    return [(text[a:b], kind) for a, b, kind in found]


if __name__ == "__main__":
    tf.test.main()
