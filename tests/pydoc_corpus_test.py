"""benchmarks/pydoc_corpus.py: sentences, prose filter, held-out split."""

import os
import tempfile

import tensorflow as tf

from benchmarks import pydoc_corpus

TOPIC = """The "if" statement
******************

The "if" statement is used for conditional execution.  It selects
exactly one of the suites, e.g. the first whose expression is true.

   if_stmt ::= "if" assignment_expression ":" suite

   if x:
       print(x)

+-----------+------------------+
| Option    | Meaning          |
+-----------+------------------+

* A bullet that reads as prose. It has two sentences.

>>> print("hello")
hello
"""


class SplitSentencesTest(tf.test.TestCase):

    def test_splits_at_a_period_before_a_capital(self):
        self.assertEqual(
            pydoc_corpus.split_sentences("One is here.  Two is there."),
            ["One is here.", "Two is there."])

    def test_keeps_abbreviations_initials_and_lowercase_continuations(self):
        text = ("Use a list, e.g. Python's own. Ask G. van Rossum. "
                "Call f. then g.")
        self.assertEqual(pydoc_corpus.split_sentences(text), [
            "Use a list, e.g. Python's own.", "Ask G. van Rossum.",
            "Call f. then g."])

    def test_splits_before_quotes_and_after_closing_brackets(self):
        text = 'It is done (see below.) "None" is a value! Is it? Yes.'
        self.assertEqual(pydoc_corpus.split_sentences(text), [
            "It is done (see below.)", '"None" is a value!', "Is it?",
            "Yes."])


class ProseTest(tf.test.TestCase):

    def test_prose_is_kept_and_code_grammar_sessions_dropped(self):
        self.assertTrue(pydoc_corpus.is_prose(
            'The "if" statement is used for conditional execution.'))
        for code in ('if_stmt ::= "if" expression ":" suite',
                     ">>> print(1) 1 and more words.",
                     "class Foo: pass",
                     "x = f(a)(g(b)) + h[1:2] if y else z."):
            self.assertFalse(pydoc_corpus.is_prose(code), code)

    def test_topic_sentences_drop_heading_table_and_code(self):
        self.assertEqual(pydoc_corpus.topic_sentences(TOPIC), [
            'The "if" statement is used for conditional execution.',
            "It selects exactly one of the suites, e.g. the first whose "
            "expression is true.",
            "A bullet that reads as prose.", "It has two sentences."])


class WriteCorpusTest(tf.test.TestCase):

    def test_holds_out_a_fixed_tenth_of_the_documents(self):
        topics = {f"topic{i}": " ".join(["Topic", str(i), "is here."]
                                        + ["It ends."] * (i + 1))
                  for i in range(30)}
        with tempfile.TemporaryDirectory() as directory:
            corpus = pydoc_corpus.write_corpus(directory, topics)
            self.assertEqual(corpus.held_out_documents, 3)
            self.assertEqual(corpus.train_documents, 27)
            with open(corpus.held_out_file, encoding="utf-8") as f:
                documents = f.read().strip().split("\n\n")
        self.assertLen(documents, 3)
        names = pydoc_corpus.held_out_names(list(topics))
        self.assertEqual(names, pydoc_corpus.held_out_names(
            list(reversed(list(topics)))))
        self.assertIn(documents[0].split()[1],
                      {name[len("topic"):] for name in names})

    def test_the_real_topics_make_a_corpus(self):
        with tempfile.TemporaryDirectory() as directory:
            corpus = pydoc_corpus.write_corpus(directory)
            self.assertGreater(os.path.getsize(corpus.train_file), 100000)
        self.assertGreaterEqual(corpus.held_out_documents, 2)
        self.assertGreater(corpus.train_documents,
                           5 * corpus.held_out_documents)
        self.assertGreater(corpus.train_sentences, 1000)


if __name__ == "__main__":
    tf.test.main()
