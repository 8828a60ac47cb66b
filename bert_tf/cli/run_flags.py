"""Command-line flags generated from a run's dataclass.

Each option of a run (`bert_tf.finetuning.FinetuningRun`,
`bert_tf.pretraining.PretrainingRun`) is written once, as a field with its
type, default and help; its command line defines the flags from the fields
and builds the run back from the parsed flags:

    @dataclasses.dataclass(frozen=True)
    class Run:
        data_dir: str = run_flags.required("The task's data directory.")
        learning_rate: float = run_flags.option(5e-5, "Peak learning rate.")
        optimizer: str = run_flags.option("adamw", "...", choices=OPTIMIZERS)

    run_flags.define_flags(Run, flags.FLAGS)
    run = run_flags.run_from_flags(Run, flags.FLAGS)

A field named differently from its flag says so (`flag="input_file"`); a
field whose type is itself such a dataclass contributes its fields as flags
of their own (pre-training's `data`). Two command lines defining their flags
in one process share the flags they both have: the first definition's help
is shown, and a run built from flags the user did not pass takes its own
class' defaults, so neither run changes.
"""

import dataclasses
import sys
import typing

from absl import flags

_MISSING = dataclasses.MISSING


def option(default, help_text, *, flag=None, choices=None):
    """A dataclass field with a default that is also a flag."""
    return dataclasses.field(default=default, metadata={
        "help": help_text, "flag": flag,
        "choices": tuple(choices) if choices is not None else None})


def required(help_text, *, flag=None, choices=None):
    """A dataclass field without a default: a required flag."""
    return dataclasses.field(metadata={
        "help": help_text, "flag": flag,
        "choices": tuple(choices) if choices is not None else None})


def _options(run_class):
    """(field, its type, flag name) of every flag of `run_class`, nested
    dataclasses flattened."""
    hints = typing.get_type_hints(run_class)
    for field in dataclasses.fields(run_class):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            yield from _options(kind)
        elif "help" in field.metadata:
            yield field, kind, field.metadata.get("flag") or field.name


def _base_type(kind):
    """int for Optional[int]; tuple for Tuple[str, ...]."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    origin = typing.get_origin(kind)
    if origin is typing.Union and len(args) == 1:
        return _base_type(args[0])
    return origin or kind


_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
           float: flags.DEFINE_float, str: flags.DEFINE_string,
           tuple: flags.DEFINE_list}


def define_flags(run_class, flag_values=flags.FLAGS):
    """Defines a flag per option of `run_class` on `flag_values` (the ones
    it has already, from another command line, are shared). They belong to
    the calling module, as if it had defined them: `--helpshort` of a
    command line lists them."""
    caller = sys._getframe(1).f_globals["__name__"]
    # absl names the main module by its file, as `--helpshort` looks it up.
    module = {"module_name": sys.argv[0] if caller == "__main__" else caller}
    required_flags = []
    for field, kind, name in _options(run_class):
        if field.default is _MISSING and field.default_factory is _MISSING:
            default = None
            required_flags.append(name)
        else:
            default = field.default
        if name in flag_values:
            continue
        help_text = field.metadata["help"]
        choices = field.metadata.get("choices")
        if choices is not None:
            flags.DEFINE_enum(name, default, list(choices), help_text,
                              flag_values=flag_values, **module)
            continue
        base = _base_type(kind)
        if base not in _DEFINE:
            raise TypeError(f"{run_class.__name__}.{field.name}: no flag "
                            f"type for {kind}")
        if base is tuple and default is not None:
            default = list(default)
        _DEFINE[base](name, default, help_text, flag_values=flag_values,
                      **module)
    flags.mark_flags_as_required(required_flags, flag_values=flag_values)


def run_from_flags(run_class, flag_values=flags.FLAGS):
    """`run_class` built from the parsed flags: the value of each flag the
    command line gave (or a program set), the class' default for the
    others."""
    hints = typing.get_type_hints(run_class)
    values = {}
    for field in dataclasses.fields(run_class):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            values[field.name] = run_from_flags(kind, flag_values)
            continue
        if "help" not in field.metadata:
            continue
        flag = flag_values[field.metadata.get("flag") or field.name]
        has_default = (field.default is not _MISSING
                       or field.default_factory is not _MISSING)
        if has_default and flag.using_default_value:
            continue
        value = flag.value
        if _base_type(kind) is tuple and value is not None:
            value = tuple(value)
        values[field.name] = value
    return run_class(**values)
