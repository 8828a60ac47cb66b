"""The document index: offsets of a corpus' documents, cached and checked."""

import os
import time

from absl.testing import absltest
import numpy as np

from bert_tf.data import document_index

TEXT = (b"one a .\none b .\n\n\n  \ntwo a .\r\ntwo b .\r\n\r\nthree .\r"
        b"\rfour .\n\t\nfive without a final line break")
DOCUMENTS = [[b"one a .", b"one b ."], [b"two a .", b"two b ."],
             [b"three ."], [b"four ."], [b"five without a final line break"]]


class DocumentIndexTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.directory = self.create_tempdir().full_path
        self.enter_context(absltest.mock.patch.dict(
            os.environ, {"BERT_TF_HOME": os.path.join(self.directory,
                                                      "home")}))
        self.path = os.path.join(self.directory, "corpus.txt")
        with open(self.path, "wb") as f:
            f.write(TEXT)

    def read_all(self, paths=None):
        index = document_index.DocumentIndex.for_files(paths or [self.path])
        return [index.sentences(i) for i in range(index.num_documents)]

    def test_documents_are_runs_of_non_blank_lines_by_any_line_break(self):
        self.assertEqual(self.read_all(), DOCUMENTS)

    def test_index_is_cached_beside_the_corpus_and_reused(self):
        self.read_all()
        cached = self.path + document_index.SUFFIX
        self.assertTrue(os.path.exists(cached))
        with absltest.mock.patch.object(document_index, "scan") as scan:
            self.assertEqual(self.read_all(), DOCUMENTS)
        scan.assert_not_called()

    def test_changed_corpus_is_reindexed_never_read_stale(self):
        self.read_all()
        time.sleep(0.01)
        with open(self.path, "wb") as f:
            f.write(b"new first .\n\nnew second .\nmore .\n")
        with self.assertLogs(level="WARNING") as logs:
            documents = self.read_all()
        self.assertEqual(documents, [[b"new first ."],
                                     [b"new second .", b"more ."]])
        self.assertIn("its file changed", "\n".join(logs.output))

    def test_file_changed_during_a_run_is_an_error_naming_it(self):
        index = document_index.DocumentIndex.for_files([self.path])
        with open(self.path, "r+b") as f:  # same size, other layout
            f.write(TEXT.replace(b"\n", b" ").replace(b"\r", b" "))
        with self.assertRaisesRegex(document_index.DocumentIndexError,
                                    f"{self.path}: document 1 is not where "
                                    "the index puts it"):
            index.sentences(1)

    def test_damaged_or_hostile_index_files_are_rebuilt(self):
        self.read_all()
        cached = self.path + document_index.SUFFIX
        good = open(cached, "rb").read()
        header_end = good.index(b"\n", len(b"bert_tf document index 1\n")) + 1
        spans = np.frombuffer(good[header_end:], "<i8").copy()
        swapped = spans.copy()
        swapped[[0, 2]] = swapped[[2, 0]]
        for damaged in (b"", b"garbage\n", good[:-5],
                        good[:header_end] + b"\x00" * (len(good)
                                                       - header_end),
                        good[:header_end] + swapped.tobytes(),
                        good.replace(b'"documents": 5', b'"documents": 9'),
                        b"bert_tf document index 1\n{not json\n"):
            with open(cached, "wb") as f:
                f.write(damaged)
            os.utime(cached)
            with self.assertLogs(level="WARNING"):
                self.assertEqual(self.read_all(), DOCUMENTS)
            self.assertEqual(open(cached, "rb").read(), good)

    def test_read_only_corpus_directory_caches_in_bert_tf_home(self):
        os.chmod(self.directory, 0o555)
        self.addCleanup(os.chmod, self.directory, 0o755)
        if os.access(self.directory, os.W_OK):
            self.skipTest("running as root: directories are writable")
        self.assertEqual(self.read_all(), DOCUMENTS)
        cache = os.path.join(self.directory, "home", "document_index")
        self.assertLen(os.listdir(cache), 1)

    def test_documents_are_numbered_across_files_in_order(self):
        other = os.path.join(self.directory, "other.txt")
        with open(other, "wb") as f:
            f.write(b"six .\n\nseven .\n")
        index = document_index.DocumentIndex.for_files([self.path, other])
        self.assertEqual(index.num_documents, 7)
        self.assertEqual(index.sentences(5), [b"six ."])
        self.assertEqual(index.locate(6)[0], other)
        with self.assertRaises(IndexError):
            index.sentences(7)

    def test_empty_and_blank_files_hold_no_documents(self):
        for text in (b"", b"\n\n  \r\n\t\n"):
            with open(self.path, "wb") as f:
                f.write(text)
            self.assertEqual(self.read_all(), [])


if __name__ == "__main__":
    absltest.main()
