"""Flag checks shared by the command lines: bad flags stop them up front.

Each function registers an absl validator for the named flags of
`flag_values`, so a bad value is refused while the flags are parsed, before
any work. `parse_flags`, given to `app.run` as its `flags_parser`, prints
one line per bad flag, naming the flag and its value, and exits with
status 2:

    error: --learning_rate=-0.001: must be > 0
    error: --output_dir=runs/x: runs is a file, not a directory

    define_flags()  # flags.DEFINE_... then, e.g.:
    flag_checks.positive(FLAGS, "train_batch_size", "eval_batch_size")
    flag_checks.output_dir(FLAGS, "output_dir")
    app.run(main, flags_parser=flag_checks.parse_flags)

Unset flags (None) pass every check but `flags.mark_flags_as_required`.
List flags are checked item by item. Paths with a scheme (gs://...) are
left to the file system that serves them.
"""

import glob
import math
import os
import sys

from absl import flags


def _register(flag_values, names, problem):
    """Validates each flag of `names` with `problem(value)`: None if fine,
    else what is wrong ("must be > 0")."""
    def checker(value):
        if value is None:
            return True
        for item in value if isinstance(value, list) else [value]:
            message = problem(item)
            if message:
                raise flags.ValidationError(message)
        return True

    for name in names:
        flags.register_validator(name, checker, flag_values=flag_values)


def check(flag_values, names, problem):
    """A check across flags: `problem({name: value})` returns None, or a
    message naming the flags and values ("--max_predictions_per_seq=200
    exceeds --max_seq_length=128")."""
    def checker(values):
        message = problem(values)
        if message:
            raise flags.ValidationError(message)
        return True

    flags.register_multi_flags_validator(list(names), checker,
                                         flag_values=flag_values)


def non_empty(flag_values, *names):
    """Strings or lists that are not empty."""
    def checker(value):
        if value is not None and not value:
            raise flags.ValidationError("must not be empty")
        return True

    for name in names:
        flags.register_validator(name, checker, flag_values=flag_values)


def _number_check(valid, bound):
    def problem(value):
        if not math.isfinite(value):
            return f"must be a finite number {bound}"
        return None if valid(value) else f"must be {bound}"
    return problem


def positive(flag_values, *names):
    """Numbers > 0."""
    _register(flag_values, names, _number_check(lambda v: v > 0, "> 0"))


def non_negative(flag_values, *names):
    """Numbers >= 0."""
    _register(flag_values, names, _number_check(lambda v: v >= 0, ">= 0"))


def at_least(flag_values, minimum, *names, why=None):
    """Numbers >= `minimum` (`why`: what needs that much)."""
    bound = f">= {minimum}" + (f" ({why})" if why else "")
    _register(flag_values, names, _number_check(
        lambda v: v >= minimum, bound))


def in_range(flag_values, low, high, *names):
    """Numbers in [low, high]."""
    _register(flag_values, names, _number_check(
        lambda v: low <= v <= high, f"in [{low}, {high}]"))


def finite(flag_values, *names):
    """Numbers that are not inf or nan."""
    _register(flag_values, names, lambda v: None if math.isfinite(v) else
              "must be a finite number")


def seed(flag_values, *names):
    """Random seeds: what numpy accepts, 0 to 2**32 - 1."""
    in_range(flag_values, 0, 2**32 - 1, *names)


def choices(flag_values, allowed, *names):
    """Strings (or list items) out of `allowed`."""
    allowed = list(allowed)
    _register(flag_values, names, lambda v: None if v in allowed else
              f"{v!r} is not one of {', '.join(allowed)}")


def _remote(path):
    return "://" in path


def _empty(path):
    return "must not be empty" if not path.strip() else None


def existing_file(flag_values, *names):
    """Paths of readable files."""
    def problem(path):
        if _empty(path) or _remote(path):
            return _empty(path)
        if os.path.isdir(path):
            return "is a directory, not a file"
        if not os.path.isfile(path):
            return "no such file"
        if not os.access(path, os.R_OK):
            return "is not readable"
        return None
    _register(flag_values, names, problem)


def existing_dir(flag_values, *names):
    """Paths of directories."""
    def problem(path):
        if _empty(path) or _remote(path):
            return _empty(path)
        if os.path.isfile(path):
            return "is a file, not a directory"
        return None if os.path.isdir(path) else "no such directory"
    _register(flag_values, names, problem)


def existing_checkpoint(flag_values, *names):
    """A directory, a file, a TF checkpoint prefix (PREFIX.index) or a
    catalog name (bert_tf.zoo)."""
    def problem(path):
        from bert_tf import zoo

        if _empty(path) or _remote(path):
            return _empty(path)
        if os.path.exists(path) or os.path.isfile(path + ".index") or \
                zoo.is_catalog_name(path):
            return None
        return ("no such file, directory, checkpoint (.index) or catalog "
                "name (python -m bert_tf.zoo list)")
    _register(flag_values, names, problem)


def input_files(flag_values, *names):
    """Globs that each match at least one file."""
    def problem(pattern):
        if _empty(pattern) or _remote(pattern):
            return _empty(pattern)
        if not any(os.path.isfile(path) for path in glob.glob(pattern)):
            return "matches no file"
        return None
    _register(flag_values, names, problem)


def _unwritable_parent(path):
    """Why `path` cannot be created, looking at its nearest existing
    ancestor, or None."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{parent} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    return None


def output_dir(flag_values, *names):
    """Directories that exist or can be made, and can be written into."""
    def problem(path):
        if _empty(path) or _remote(path):
            return _empty(path)
        if os.path.exists(path):
            if not os.path.isdir(path):
                return "is a file, not a directory"
            if not os.access(path, os.W_OK | os.X_OK):
                return "is not writable"
            return None
        return _unwritable_parent(path)
    _register(flag_values, names, problem)


def output_file(flag_values, *names):
    """Files that can be written: not a directory, in a writable one."""
    def problem(path):
        if _empty(path) or _remote(path):
            return _empty(path)
        if os.path.isdir(path) or path.endswith(os.sep):
            return "is a directory, not a file"
        if os.path.exists(path) and not os.access(path, os.W_OK):
            return "is not writable"
        return _unwritable_parent(path)
    _register(flag_values, names, problem)


def _shown(value):
    """A flag value on one line: lists comma-joined, odd strings quoted."""
    if isinstance(value, list):
        return ",".join(_shown(item) for item in value)
    if isinstance(value, str) and not value.isprintable():
        return repr(value)
    return str(value)


def _one_line(text):
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _parse(argv, flag_values):
    """(arguments left after the flags, error lines without "error: ")."""
    try:
        return flag_values(argv), []
    except flags.Error as e:
        if not flag_values.is_parsed():  # unknown flag or unparsable value
            return None, [_one_line(str(e).removeprefix("flag "))]
    # Parsed, but a validator refused: one line per failing check, in the
    # order they were registered (absl's own message would print the raw
    # value, which may span lines).
    validators = {validator for name in flag_values
                  for validator in flag_values[name].validators}
    lines, bad = [], set()
    for validator in sorted(validators, key=lambda v: v.insertion_index):
        names = set(validator.get_flags_names())
        if names & bad:
            continue
        try:
            validator.verify(flag_values)
        except flags.ValidationError as e:
            bad |= names
            lines.append(_message(flag_values, validator, str(e)))
    return None, lines


def errors(argv, flag_values=flags.FLAGS):
    """Parses `argv` into `flag_values`; the lines `parse_flags` would
    print (without "error: "), empty when every flag is fine."""
    return _parse(argv, flag_values)[1]


def _message(flag_values, validator, message):
    if hasattr(validator, "flag_names"):  # across flags: ours name them
        return _one_line(message)
    names = validator.get_flags_names()
    value = flag_values[names[0]].value
    if value is None and "must have a value other than None" in message:
        return f"--{names[0]} is required"
    return _one_line(f"--{names[0]}={_shown(value)}: {message}")


def parse_flags(argv, flag_values=flags.FLAGS):
    """`app.run`'s flags_parser: the arguments left after the flags, or
    exit with status 2 after one "error: ..." line per bad flag."""
    args, lines = _parse(argv, flag_values)
    if not lines:
        return args
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(2)
