"""Which TF Serving releases can load an exported SavedModel.

`tensorflow_model_server` links core TensorFlow and tensorflow-text's op
library, but each release pins its own tf.text, so a graph op added to
tf.text after that pin makes the export unloadable there ("Op type not
registered"). `audit(export_dir, serving_version)` lists every op of the
export, finds those core TensorFlow does not register (in a fresh process
that imports only `tensorflow`) and checks each against the release that
first links it. Python-function ops are refused outright: no server can
run them.

Known facts the table is built from (tensorflow/serving#2267, #2064 and
the TF Serving / tf.text release notes): TF Serving links tf.text's ops
since 2.0; `RegexSplitWithOffsets` from 2.2, `FastWordpieceTokenizeWithOffsets`
from 2.10, `FastBertNormalize` from 2.12; releases 2.12 to 2.19 pin tf.text
2.12.1, so `RoundRobinTrim` (and its sibling ops) only from 2.20.
"""

import functools
import json
import subprocess
import sys

from bert_tf import errors

# tf.text op -> first TF Serving release that links it.
TF_TEXT_OPS = {
    "NormalizeUTF8": "2.0",
    "CaseFoldUTF8": "2.0",
    "WhitespaceTokenizeWithOffsets": "2.0",
    "RegexSplitWithOffsets": "2.2",
    "FastWordpieceTokenizeWithOffsets": "2.10",
    "FastWordpieceDetokenize": "2.10",
    "FastBertNormalize": "2.12",
    "RoundRobinTrim": "2.20",
    "RoundRobinGenerateMasks": "2.20",
    "RoundRobinFit": "2.20",
}
PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
# The TF Serving release matching the TensorFlow we build with.
DEFAULT_SERVING_VERSION = "2.21"


class UnservableOpError(errors.Error):
    """An op the target TF Serving release does not have."""


def _version(text):
    return tuple(int(part) for part in text.split(".")[:2])


def graph_ops(export_dir):
    """Every op type in the SavedModel's graph and function library."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(f"{export_dir}/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {f.signature.name for f in library.function}
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in library.function:
            ops |= {node.op for node in function.node_def}
        ops -= functions  # calls of library functions, not ops
    return ops


_CORE_CHECK = """
import json, sys
from tensorflow.python.framework import op_def_registry
ops = json.loads(sys.stdin.read())
print(json.dumps([op for op in ops if op_def_registry.get(op) is None]))
"""


def non_core_ops(ops):
    """The ops of `ops` that core TensorFlow alone does not register."""
    return set(_non_core_ops(tuple(sorted(ops))))


@functools.lru_cache(maxsize=64)
def _non_core_ops(ops):
    # A fresh process per op set, once per process: exports of one family
    # have the same ops, and the answer depends only on the installed
    # TensorFlow.
    result = subprocess.run(
        [sys.executable, "-c", _CORE_CHECK], input=json.dumps(ops),
        capture_output=True, text=True, check=True)
    return tuple(json.loads(result.stdout.strip().splitlines()[-1]))


def audit(export_dir, serving_version=DEFAULT_SERVING_VERSION):
    """Checks an export against a TF Serving release.

    Returns:
        (ops, oldest): the sorted op types of the export, and the oldest
        TF Serving release that links all of them.

    Raises:
        UnservableOpError: naming each op outside core TensorFlow plus the
            tf.text ops of `serving_version`, with the first release that
            has it, if any.
    """
    ops = graph_ops(export_dir)
    problems = [f"{op} (a Python function: no TF Serving release runs it)"
                for op in sorted(ops & PYTHON_OPS)]
    oldest = "2.0"
    for op in sorted(non_core_ops(ops)):
        first = TF_TEXT_OPS.get(op)
        if first is None:
            problems.append(f"{op} (neither core TensorFlow nor a tf.text "
                            "op TF Serving links)")
            continue
        if _version(first) > _version(oldest):
            oldest = first
        if _version(first) > _version(serving_version):
            problems.append(f"{op} (TF Serving links it from {first})")
    if problems:
        raise UnservableOpError(
            f"{export_dir}: TF Serving {serving_version} cannot load this "
            f"export: {'; '.join(problems)}")
    return sorted(ops), oldest
