"""The command line of `python -m serving.dev_server`: its flags, named as
tensorflow_model_server names them where it has them, their validators
(one-line errors before anything is loaded), and `main`.
"""

import os
import signal
import sys
import threading

from absl import app
from absl import flags
from absl import logging

from bert_tf.cli import flag_checks
from serving.dev_server import limits
from serving.dev_server import model_registry
from serving.dev_server import server

FLAGS = flags.FLAGS



def parse_channel_arguments(text: str) -> list[tuple[str, object]]:
    """--grpc_channel_arguments ("key=value,key=value", as
    tensorflow_model_server reads it) as gRPC options; integer values
    become ints.

    Raises:
        ValueError: an item without '=' or with an empty key.
    """
    options = []
    for item in filter(None, (i.strip() for i in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"grpc channel argument {item!r} is not "
                             f"key=value")
        value = value.strip()
        try:
            value = int(value)
        except ValueError:
            pass
        options.append((key.strip(), value))
    return options


def define_flags(flag_values=FLAGS):
    """Defines the command line's flags and their validators on
    `flag_values` (tests pass a FlagValues of their own)."""
    fv = dict(flag_values=flag_values)
    flags.DEFINE_string("model_config_file", None, "ModelServerConfig text "
                        "proto listing the models (BASE/models.config).", **fv)
    flags.DEFINE_string("model_name", None, "Serve one model under this name "
                        "instead of --model_config_file ...", **fv)
    flags.DEFINE_string("model_base_path", None, "... from this directory of "
                        "numbered versions.", **fv)
    flags.DEFINE_string("host", "127.0.0.1", "Address to bind (TF Serving "
                        "binds all interfaces; use 0.0.0.0 for that).", **fv)
    flags.DEFINE_integer("port", 8500, "gRPC port (0: any free port).", **fv)
    flags.DEFINE_integer("rest_api_port", 0, "REST port; 0 disables REST, as "
                         "in tensorflow_model_server.", **fv)
    flags.DEFINE_float("file_system_poll_wait_seconds", 1, "Seconds between "
                       "polls of the base paths for new versions; 0: once.",
        **fv)
    flags.DEFINE_float("model_config_file_poll_wait_seconds", 0, "Seconds "
                       "between re-reads of --model_config_file; 0: never.",
        **fv)
    flags.DEFINE_bool("enable_model_warmup", True, "Replay assets.extra/"
                      "tf_serving_warmup_requests before serving a version.",
        **fv)
    flags.DEFINE_bool("enable_signature_method_name_check", False, "Classify "
                      "and Regress require the signature's method_name.", **fv)
    flags.DEFINE_string("saved_model_tags", "serve", "Comma-separated tags of "
                        "the MetaGraphDef to load.", **fv)
    flags.DEFINE_integer("max_num_load_retries", 5, "Retries of a failed "
                         "load.", **fv)
    flags.DEFINE_integer("load_retry_interval_micros", 60 * 1000 * 1000,
                         "Microseconds between load retries.", **fv)
    flags.DEFINE_integer("grpc_max_threads", 16, "Concurrent gRPC requests "
                         "(8 times as many may wait; more are refused).", **fv)
    flags.DEFINE_string("grpc_channel_arguments", "", "Comma-separated "
                        "key=value gRPC server arguments, e.g. "
                        "grpc.max_receive_message_length=1048576.", **fv)
    flags.DEFINE_integer("rest_api_num_threads", 16, "Concurrent REST "
                         "requests.", **fv)
    flags.DEFINE_integer("rest_api_timeout_in_ms", 30000, "Time a REST client "
                         "has to send its request; slower ones are cut off.",
        **fv)
    flags.DEFINE_integer("max_request_bytes", limits.MAX_REQUEST_BYTES,
                         "Largest request (gRPC message or REST body), "
                         "refused before it is read (dev server only).", **fv)
    flags.DEFINE_integer("max_batch_size", 1024, "Largest batch of a request "
                         "(first dimension of a Predict input, examples of "
                         "Classify/Regress); 0: no cap (dev server only).",
                         **fv)
    flags.DEFINE_integer("max_concurrent_runs", 0, "Requests running a model "
                         "at once; others wait, and are dropped if their "
                         "client leaves first. 0: the number of CPUs (dev "
                         "server only).", **fv)
    _register_validators(flag_values)


def _register_validators(flag_values):
    """One-line errors for bad flag values, before anything is loaded."""
    for name, low, high in (("port", 0, 65535), ("rest_api_port", 0, 65535),
                            ("file_system_poll_wait_seconds", 0, None),
                            ("model_config_file_poll_wait_seconds", 0, None),
                            ("max_num_load_retries", 0, None),
                            ("load_retry_interval_micros", 0, None),
                            ("grpc_max_threads", 1, None),
                            ("rest_api_num_threads", 1, None),
                            ("rest_api_timeout_in_ms", 1, None),
                            ("max_request_bytes", 1, (1 << 31) - 1),
                            ("max_batch_size", 0, None),
                            ("max_concurrent_runs", 0, None)):
        flags.register_validator(
            name, lambda v, low=low, high=high: (
                v is not None and v >= low and (high is None or v <= high)),
            f"must be {_range_text(low, high)}", flag_values=flag_values)
    flags.register_validator(
        "model_config_file", lambda v: v is None or os.path.isfile(v),
        "is not a file", flag_values=flag_values)
    flags.register_validator(
        "model_base_path", lambda v: v is None or os.path.isdir(v),
        "is not a directory", flag_values=flag_values)
    flags.register_validator(
        "saved_model_tags", lambda v: any(t for t in v.split(",")),
        "must name at least one tag", flag_values=flag_values)
    flags.register_validator("host", bool, "must not be empty",
                             flag_values=flag_values)
    flags.register_validator(
        "grpc_channel_arguments", _valid_channel_arguments,
        "must be comma-separated key=value items", flag_values=flag_values)
    flags.register_multi_flags_validator(
        ["model_config_file", "model_name"],
        lambda f: bool(f["model_config_file"]) != bool(f["model_name"]),
        "give either --model_config_file or --model_name with "
        "--model_base_path", flag_values=flag_values)
    flags.register_multi_flags_validator(
        ["model_name", "model_base_path"],
        lambda f: not f["model_name"] or bool(f["model_base_path"]),
        "--model_name needs --model_base_path", flag_values=flag_values)
    flags.register_multi_flags_validator(
        ["port", "rest_api_port"],
        lambda f: not f["port"] or f["port"] != f["rest_api_port"],
        "--port and --rest_api_port must differ", flag_values=flag_values)


def _range_text(low, high):
    return f">= {low}" if high is None else f"in [{low}, {high}]"


def _valid_channel_arguments(text):
    try:
        parse_channel_arguments(text)
    except ValueError:
        return False
    return True


def server_from_flags() -> server.DevServer:
    """A DevServer configured by the command line (not started)."""
    if FLAGS.model_name:
        config = model_registry.single_model_config(
            FLAGS.model_name, os.path.abspath(FLAGS.model_base_path))
    else:
        config = FLAGS.model_config_file
    options = model_registry.LoadOptions(
        tags=tuple(t for t in FLAGS.saved_model_tags.split(",") if t),
        enable_model_warmup=FLAGS.enable_model_warmup,
        method_check=FLAGS.enable_signature_method_name_check,
        max_num_load_retries=FLAGS.max_num_load_retries,
        load_retry_interval_seconds=FLAGS.load_retry_interval_micros / 1e6)
    return server.DevServer(
        config, host=FLAGS.host, port=FLAGS.port,
        rest_api_port=FLAGS.rest_api_port or None,
        file_system_poll_wait_seconds=FLAGS.file_system_poll_wait_seconds,
        model_config_file_poll_wait_seconds=(
            FLAGS.model_config_file_poll_wait_seconds),
        load_options=options,
        request_limits=limits.RequestLimits(
            max_batch_size=FLAGS.max_batch_size,
            max_concurrent_runs=FLAGS.max_concurrent_runs),
        grpc_max_threads=FLAGS.grpc_max_threads,
        grpc_channel_arguments=parse_channel_arguments(
            FLAGS.grpc_channel_arguments),
        max_request_bytes=FLAGS.max_request_bytes,
        rest_api_num_threads=FLAGS.rest_api_num_threads,
        rest_api_timeout_in_ms=FLAGS.rest_api_timeout_in_ms)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        running = server_from_flags().start()
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum, frame):
        del frame
        logging.info("Received signal %d, shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.5):
        pass
    running.stop()
    logging.info("Stopped")
    return 0


def run():
    """`python -m serving.dev_server`."""
    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
