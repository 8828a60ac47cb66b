"""tf.data input pipelines of bert_tf, and the input files they read."""

import glob
import os

from bert_tf import errors


InputFilesError = errors.InputFilesError


def expand_input_files(patterns):
    """Sorted files of a list of globs; errors name a glob that matches no
    file, and input that holds no text at all."""
    files = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise InputFilesError(f"input {pattern!r} matches no file")
        files.extend(matched)
    if all(os.path.getsize(f) == 0 for f in files):
        raise InputFilesError(
            f"input holds no text: {', '.join(files)} "
            f"{'is' if len(files) == 1 else 'are all'} empty")
    return files
