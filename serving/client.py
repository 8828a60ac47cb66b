r"""Client for TF Serving (and serving.dev_server): gRPC or REST.

    python -m serving.client --server=localhost:8500 --model=sst2 \
        --input=text_a="a gripping, funny film"
    python -m serving.client --server=localhost:8501 --rest --model=mrpc \
        --input_file=pairs.tsv --batch_size=32 --output_format=json
    python -m serving.client --server=localhost:8500 --model=sst2 \
        --method=metadata

--input KEY=VALUE (repeatable; repeating a key adds examples) gives a
string; KEY:=JSON gives a typed value (a number, a list). --input_file is
a TSV file whose header row names the inputs, or a JSONL file of objects
{input: value}. Requests go in batches of --batch_size examples; the output
is one line per example (--output_format=json: one JSON object per line).
--method: predict (default), classify and regress (the examples become
tf.Examples, features named by the inputs), metadata, status.

Library (uses only the public TF Serving APIs, so it works against the
real tensorflow_model_server too):

    outputs = client.predict("localhost:8500", "sst2", {"text_a": ["..."]})
    with client.Client("localhost:8501", rest=True) as c:
        c.classify("sst2", [{"text_a": "..."}], signature_name="classification")
"""

import dataclasses
import sys

from absl import app
from absl import flags

from serving import client_io
from serving.client_lib import Client
from serving.client_lib import ServingClientError
from serving.client_lib import VersionStatus
from serving.client_lib import classify
from serving.client_lib import get_model_metadata
from serving.client_lib import get_model_status
from serving.client_lib import predict
from serving.client_lib import regress

__all__ = ["Client", "ServingClientError", "VersionStatus", "classify",
           "get_model_metadata", "get_model_status", "predict", "regress"]


@dataclasses.dataclass(frozen=True)
class Options:
    """What one `python -m serving.client` run asks for (see the flags)."""

    model: str
    method: str = "predict"
    version: int | None = None
    version_label: str | None = None
    signature_name: str = "serving_default"
    inputs: tuple[str, ...] = ()
    input_file: str | None = None
    batch_size: int = 32
    output_format: str = "text"


def run(client: Client, options: Options, out=sys.stdout) -> None:
    """Does what `options` ask with `client`, writing lines to `out`."""
    version = dict(version=options.version,
                   version_label=options.version_label)
    fmt = options.output_format
    if options.method == "metadata":
        signature_defs = client.metadata(options.model, **version)
        _write(out, client_io.format_metadata(signature_defs, fmt))
        return
    if options.method == "status":
        _write(out, client_io.format_status(
            client.status(options.model, **version), fmt))
        return
    rows = client_io.parse_flag_inputs(list(options.inputs))
    if options.input_file:
        rows += client_io.read_input_file(options.input_file)
    if not rows:
        raise client_io.InputError("no examples: give --input or "
                                   "--input_file")
    call = dict(signature_name=options.signature_name, **version)
    signature = None
    if options.method == "predict":
        signature = client_io.find_signature(
            client.metadata(options.model, **version), options.signature_name)
    start = 0
    for batch in client_io.batches(rows, options.batch_size):
        if options.method == "predict":
            inputs = client_io.signature_inputs(batch, signature, start)
            outputs = client.predict(options.model, inputs, **call)
            lines = client_io.format_predictions(outputs, len(batch), start,
                                                 fmt)
        elif options.method == "classify":
            results = client.classify(options.model, batch, **call)
            lines = client_io.format_classifications(results, start, fmt)
        else:
            values = client.regress(options.model, batch, **call)
            lines = client_io.format_regressions(values, start, fmt)
        _write(out, lines)
        start += len(batch)


def _write(out, lines):
    for line in lines:
        out.write(line + "\n")
    out.flush()


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("server", None, "HOST:PORT of the gRPC (or, with "
                        "--rest, the REST) API.")
    flags.DEFINE_string("model", None, "Model name.")
    flags.DEFINE_integer("version", None, "Model version (default: latest).")
    flags.DEFINE_string("version_label", None, "Model version label.")
    flags.DEFINE_string("signature_name", "serving_default", "Signature.")
    flags.DEFINE_bool("rest", False, "Use the REST API instead of gRPC.")
    flags.DEFINE_enum("method", "predict", ["predict", "classify", "regress",
                                            "metadata", "status"],
                      "API to call.")
    flags.DEFINE_multi_string("input", [], "KEY=VALUE (a string) or "
                              "KEY:=JSON; repeat a key for more examples.")
    flags.DEFINE_string("input_file", None, "Examples: FILE.tsv (header = "
                        "input names) or FILE.jsonl.")
    flags.DEFINE_integer("batch_size", 32, "Examples per request.")
    flags.DEFINE_enum("output_format", "text", ["text", "json"], "Output: "
                      "readable lines, or one JSON object per line.")
    flags.DEFINE_float("timeout", 60.0, "Seconds per request.")


def options_from_flags() -> Options:
    if not FLAGS.server or not FLAGS.model:
        raise app.UsageError("--server and --model are required")
    if FLAGS.batch_size < 1:
        raise app.UsageError("--batch_size must be at least 1")
    return Options(
        model=FLAGS.model, method=FLAGS.method, version=FLAGS.version,
        version_label=FLAGS.version_label,
        signature_name=FLAGS.signature_name, inputs=tuple(FLAGS.input),
        input_file=FLAGS.input_file, batch_size=FLAGS.batch_size,
        output_format=FLAGS.output_format)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    options = options_from_flags()
    try:
        with Client(FLAGS.server, rest=FLAGS.rest,
                    timeout=FLAGS.timeout) as client:
            run(client, options)
    except (ServingClientError, client_io.InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
