"""One error hierarchy: whatever a user gets wrong raises a
`bert_tf.errors.Error` that names the place."""

import os

from absl.testing import absltest

import bert_tf
from bert_tf import checkpoint_checks
from bert_tf import configs
from bert_tf import data
from bert_tf.data import document_index
from bert_tf.data import pretraining
from bert_tf import errors
from bert_tf.tasks.multiple_choice import data as swag
from bert_tf.tasks.question_answering import data as squad
from bert_tf.tasks.text_classification import data as glue
from bert_tf.tasks.token_classification import data as conll
from bert_tf import tokenization
from bert_tf import training


class ErrorsTest(absltest.TestCase):

    def test_historical_names_are_the_hierarchys_classes(self):
        for alias, error in [
                (configs.ConfigError, errors.ConfigError),
                (checkpoint_checks.CheckpointError, errors.CheckpointError),
                (checkpoint_checks.CheckpointConfigError,
                 errors.CheckpointConfigError),
                (training.CheckpointRestoreError,
                 errors.CheckpointRestoreError),
                (tokenization.VocabError, errors.VocabError),
                (data.InputFilesError, errors.InputFilesError),
                (glue.DataError, errors.DataError),
                (pretraining.PretrainingDataError,
                 errors.PretrainingDataError),
                (document_index.DocumentIndexError,
                 errors.DocumentIndexError)]:
            self.assertIs(alias, error)
            self.assertTrue(issubclass(error, bert_tf.Error))
            self.assertTrue(issubclass(error, ValueError))

    def test_every_reader_raises_a_data_error_naming_the_file(self):
        directory = self.create_tempdir().full_path
        path = os.path.join(directory, "broken")
        with open(path, "wb") as f:
            f.write(b"\xff\xfe not a task file\n")
        readers = [lambda: squad.read_file(path),
                   lambda: swag.read_file(path),
                   lambda: conll.read_file(path),
                   lambda: glue.read_file(glue.TASKS["sst2"], path,
                                          "train")]
        for read in readers:
            with self.assertRaises(errors.DataError) as raised:
                read()
            self.assertTrue(str(raised.exception).startswith(path),
                            raised.exception)


if __name__ == "__main__":
    absltest.main()
