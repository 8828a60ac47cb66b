"""The command line of `python -m serving.client` (see serving/client/
__init__.py)."""

import dataclasses
import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from serving.client import inputs as client_io
from serving.client.lib import classify
from serving.client.lib import Client
from serving.client.lib import get_model_metadata
from serving.client.lib import get_model_status
from serving.client.lib import predict
from serving.client.lib import regress
from serving.client.lib import ServingClientError
from serving.client.lib import VersionStatus

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


def run_requests(client: Client, options: Options, out=sys.stdout) -> None:
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


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_string("server", None, "HOST:PORT of the gRPC (or, with "
                        "--rest, the REST) API.", **fv)
    flags.DEFINE_string("model", None, "Model name.", **fv)
    flags.DEFINE_integer("version", None, "Model version (default: "
                         "latest).", **fv)
    flags.DEFINE_string("version_label", None, "Model version label.", **fv)
    flags.DEFINE_string("signature_name", "serving_default", "Signature.",
                        **fv)
    flags.DEFINE_bool("rest", False, "Use the REST API instead of gRPC.",
                      **fv)
    flags.DEFINE_enum("method", "predict", ["predict", "classify", "regress",
                                            "metadata", "status"],
                      "API to call.", **fv)
    flags.DEFINE_multi_string("input", [], "KEY=VALUE (a string) or "
                              "KEY:=JSON; repeat a key for more examples.",
                              **fv)
    flags.DEFINE_string("input_file", None, "Examples: FILE.tsv (header = "
                        "input names) or FILE.jsonl.", **fv)
    flags.DEFINE_integer("batch_size", 32, "Examples per request.", **fv)
    flags.DEFINE_enum("output_format", "text", ["text", "json"], "Output: "
                      "readable lines, or one JSON object per line.", **fv)
    flags.DEFINE_float("timeout", 60.0, "Seconds per request.", **fv)
    _define_checks(flag_values)


def _define_checks(fv):
    flags.mark_flags_as_required(["server", "model"], flag_values=fv)
    flag_checks.non_empty(fv, "server", "model", "signature_name",
                          "version_label")
    flags.register_validator("server", _is_server_address,
                             "expected HOST:PORT (or, with --rest, "
                             "http://HOST:PORT)", flag_values=fv)
    flag_checks.non_negative(fv, "version")
    flag_checks.positive(fv, "batch_size", "timeout")
    flag_checks.existing_file(fv, "input_file")
    flags.register_validator(
        "input_file", lambda path: path is None or path.endswith(
            (".tsv", ".jsonl", ".json")), "expected a .tsv or .jsonl file",
        flag_values=fv)
    flag_checks.check(fv, ["input"], _inputs_problem)
    flag_checks.check(fv, ["version", "version_label"], lambda v: (
        "pass --version or --version_label, not both"
        if v["version"] is not None and v["version_label"] else None))


def _is_server_address(server):
    """HOST:PORT with a port number, or a URL; None passes (required)."""
    if not server or "://" in server or server.startswith(("unix:", "dns:")):
        return True
    host, _, port = server.rpartition(":")
    return bool(host.strip()) and port.isdigit() and 0 < int(port) < 65536


def _inputs_problem(values):
    try:
        client_io.parse_flag_inputs(values["input"])
    except client_io.InputError as e:
        return str(e)
    return None


def options_from_flags() -> Options:
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
            run_requests(client, options)
    except (ServingClientError, client_io.InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def run():
    """`python -m serving.client`."""
    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
