"""The two implementations of SQuAD's windowing and answer decoding agree:
serving.py (in the graph, for exports) answers every question as
features.py + postprocessing.py (Python, for evaluation and
predictions.json) do. Beside them so that a change to one meets the other.
(tests/served_matches_evaluated_test.py checks the same on the real SQuAD
files and MiniLM, through a saved export.)"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from bert_tf import configs
from bert_tf import models
from bert_tf import tokenization
from bert_tf.layers import encoder as encoder_lib
from bert_tf.tasks.question_answering import data
from bert_tf.tasks.question_answering import features as features_lib
from bert_tf.tasks.question_answering import postprocessing
from bert_tf.tasks.question_answering import serving
from bert_tf.tasks.question_answering import task

_WORDS = ("the river rises in cafe naive ete hills , ends at sea far from "
          "old town . 東 京").split()


def _tokenizer():
    path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                           *_WORDS, "##s", "##e"]) + "\n")
    return tokenization.BertTokenizer(path, lower_case=True)


class ServingDecodesAsEvaluationTest(tf.test.TestCase):

    def test_served_answers_are_the_evaluated_answers(self):
        keras.utils.set_random_seed(0)
        tokenizer = _tokenizer()
        model = models.BertSpanLabeler(encoder_lib.BertEncoder(
            configs.BertConfig(vocab_size=tokenizer.vocab_size,
                               hidden_size=16, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=32,
                               max_position_embeddings=32)))
        options = task.Options(max_query_length=6, doc_stride=5,
                               max_answer_length=2, n_best_size=5,
                               null_score_diff_threshold=0.5)
        description = task.Description(
            "squad_v2", "question_answering", max_seq_length=24,
            lower_case=True, version_2_with_negative=True, options=options)
        module = serving.QuestionAnsweringServing(model, tokenizer,
                                                  description)
        module.signatures()
        # Long contexts (several windows), accents, combining marks, CJK,
        # unknown words, an empty context and an over-long question.
        rng = np.random.default_rng(0)
        vocabulary = _WORDS + ["café", "naïve", "e\u0301te\u0301",
                               "Zanzibar"]
        contexts = [" ".join(rng.choice(vocabulary, n))
                    for n in (60, 3, 0, 25, 40, 9, 30, 18, 50, 12)]
        questions = [" ".join(rng.choice(vocabulary, n))
                     for n in (4, 2, 3, 12, 0, 5, 3, 6, 2, 4)]
        served = module.serve_text(tf.constant(questions),
                                   tf.constant(contexts))

        examples = [data.SquadExample(
            qas_id=str(i), question=q, context=c, answers=(),
            is_impossible=False, where=str(i))
            for i, (q, c) in enumerate(zip(questions, contexts))]
        features = features_lib.create_features(
            tokenizer, examples, 24, options.max_query_length,
            options.doc_stride)
        self.assertGreater(len(features), 12)  # several windows
        inputs = tokenizer.model_inputs(
            tf.ragged.constant([f.input_word_ids for f in features]),
            tf.ragged.constant([f.input_type_ids for f in features]))
        outputs = model(inputs, training=False)
        predicted = postprocessing.predict_answers(
            examples, features, outputs["start_logits"].numpy(),
            outputs["end_logits"].numpy(), options.n_best_size,
            options.max_answer_length, True,
            options.null_score_diff_threshold)

        answers = [a.decode() for a in served["answer"].numpy()]
        self.assertEqual(answers,
                         [predicted.answers[e.qas_id] for e in examples])
        self.assertAllClose(served["null_odds"],
                            [predicted.null_odds[e.qas_id]
                             for e in examples], rtol=1e-4)
        self.assertNotEqual(set(answers), {""})  # some spans were chosen
        for i, answer in enumerate(answers):
            start, end = served["start"][i], served["end"][i]
            if answer:
                self.assertEqual(contexts[i][start:end], answer)
            else:
                self.assertEqual((start, end), (-1, -1))


if __name__ == "__main__":
    tf.test.main()
