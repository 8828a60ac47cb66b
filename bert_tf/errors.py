"""The errors bert_tf raises for input a user can get wrong.

Every one is a `bert_tf.errors.Error` (a `ValueError`), so one handler
catches them all; each message starts with the place, 'FILE:LINE: ',
'FILE: ' or the flag or field, and says what to change. The modules that
raise them keep their historical names as aliases (`configs.ConfigError`,
`glue.DataError`, ...), the same classes.
"""


class Error(ValueError):
    """Input that bert_tf cannot use: a file, a setting or a request."""


class ConfigError(Error):
    """A BERT config that is missing fields or inconsistent."""


class CheckpointError(Error):
    """A checkpoint that cannot be read or does not fit the model."""


class CheckpointConfigError(CheckpointError, ConfigError):
    """A checkpoint's config file is malformed or does not fit its weights.

    Both a `CheckpointError` and a `ConfigError`, so either handler sees it.
    """


class CheckpointRestoreError(Error):
    """A training checkpoint that cannot be resumed from."""


class VocabError(Error):
    """A vocabulary file that cannot be used."""


class InputFilesError(Error):
    """Input file patterns that match nothing, or only empty files."""


class DataError(Error):
    """Task data that cannot give correct examples.

    The message starts with the place: 'FILE:LINE: ', or 'FILE: ' / 'DIR: '
    when it concerns a whole file or directory.
    """


class PretrainingDataError(Error):
    """Pre-training input or settings that cannot give correct examples."""


class DocumentIndexError(Error):
    """A corpus file that cannot be indexed or read by its index."""


class ZooError(Error):
    """A catalog name that is unknown, or a checkpoint that cannot be
    downloaded, verified or unpacked."""
