r"""Development stand-in for tensorflow_model_server (TF Serving).

    python -m serving.dev_server --model_config_file=exports/models.config \
        --port=8500 --rest_api_port=8501

NOT TF Serving: a Python server for development and tests, for machines
where the real binary (docker image tensorflow/serving) cannot run. It
serves the same model directories and models.config with the same APIs,
built on the tensorflow-serving-api protos:
- gRPC (--port): PredictionService Predict, Classify, Regress,
  GetModelMetadata; ModelService GetModelStatus, HandleReloadConfigRequest.
- REST (--rest_api_port; 0 = off, as in TF Serving): GET
  /v1/models/NAME[/versions/N], .../metadata; POST ...:predict (row
  "instances" or columnar "inputs"), :classify, :regress.
Each model's latest version directory (BASE/NAME/<number>) is loaded and
its assets.extra/tf_serving_warmup_requests replayed before it serves; the
base paths are polled every --file_system_poll_wait_seconds, a new version
takes over once loaded and warmed up and the old one is unloaded, without
failing requests in flight. Unlike TF Serving it binds 127.0.0.1 unless
--host says otherwise, and it refuses costly requests up front
(--max_request_bytes, --max_batch_size, --max_concurrent_runs, REST
timeouts and a bounded worker pool; see docs/serving.md "Dev server
limits"). Its flags are in serving/dev_server_flags.py. SIGTERM or SIGINT
stops it cleanly.
"""

from tasks import console  # noqa: F401  (first: TensorFlow loads quietly)

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
from absl import app
from absl import flags
from absl import logging

from serving import dev_server_flags
from serving import grpc_services
from serving import limits
from serving import model_registry
from serving import rest
from tasks import flag_checks

# gRPC requests admitted at once (running or waiting for one of
# grpc_max_threads workers) per worker; more answer RESOURCE_EXHAUSTED
# rather than queue without bound.
_GRPC_QUEUE_PER_THREAD = 8


class DevServer:
    """The dev server, started and stopped from Python (tests, notebooks).

        with dev_server.DevServer("exports/models.config") as server:
            client.predict(server.grpc_address, "sst2", {...})

    Args:
        model_config: str (path of a models.config text proto) or a
            ModelServerConfig.
        host: str. Address both APIs bind.
        port: int. gRPC port; 0 picks a free one (see `port`).
        rest_api_port: int or None. REST port; 0 picks a free one; None
            disables REST.
        file_system_poll_wait_seconds: float. Version polling period; 0
            polls once, at start.
        model_config_file_poll_wait_seconds: float. Re-reads the config file
            this often (0: never).
        load_options: model_registry.LoadOptions.
        request_limits: limits.RequestLimits (--max_batch_size).
        grpc_max_threads: int. Concurrent gRPC requests; 8 times as many
            may wait, more are refused with RESOURCE_EXHAUSTED.
        grpc_channel_arguments: list of (key, value) gRPC server options;
            they override the defaults (see
            dev_server_flags.parse_channel_arguments).
        max_request_bytes: int. Largest request: gRPC message
            (grpc.max_receive_message_length unless grpc_channel_arguments
            sets it) or REST body.
        rest_api_num_threads: int. Concurrent REST requests.
        rest_api_timeout_in_ms: int. Time a REST client has to send its
            request (slower ones are cut off), and each socket operation.
    """

    def __init__(self, model_config, *, host="127.0.0.1", port=0,
                 rest_api_port=0, file_system_poll_wait_seconds=1.0,
                 model_config_file_poll_wait_seconds=0.0,
                 load_options=model_registry.LoadOptions(),
                 request_limits=limits.RequestLimits(),
                 grpc_max_threads=16, grpc_channel_arguments=(),
                 max_request_bytes=limits.MAX_REQUEST_BYTES,
                 rest_api_num_threads=16, rest_api_timeout_in_ms=30000):
        if isinstance(model_config, str):
            self._config_file = model_config
            model_config = model_registry.read_config_file(model_config)
        else:
            self._config_file = None
        self._config_text = model_config.SerializeToString()
        self.registry = model_registry.ModelRegistry(
            model_config, load_options, request_limits)
        self.host = host
        self.port = port
        self.rest_api_port = rest_api_port
        self._poll_seconds = file_system_poll_wait_seconds
        self._config_poll_seconds = model_config_file_poll_wait_seconds
        self._grpc_max_threads = grpc_max_threads
        self._grpc_options = dict([
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.max_send_message_length", -1),
            *grpc_channel_arguments])
        self._rest_options = dict(
            num_threads=rest_api_num_threads,
            timeout_seconds=rest_api_timeout_in_ms / 1000.0,
            max_body_bytes=max_request_bytes)
        self._grpc = None
        self._rest = None
        self._stopped = threading.Event()
        self._config_thread = None

    @property
    def grpc_address(self) -> str:
        return f"{_url_host(self.host)}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.rest_api_port}"

    def start(self) -> "DevServer":
        """Loads the models, then opens the ports; returns self.

        Raises:
            RuntimeError: a model version failed to load (TF Serving exits
                then too), or a port could not be bound.
        """
        self.registry.poll()
        failed = self.registry.load_errors()
        if failed:
            self.registry.stop()
            raise RuntimeError("model versions failed to load: " + "; ".join(
                f"{where}: {message}" for where, message in failed.items()))
        try:
            self._start_grpc()
            if self.rest_api_port is not None:
                self._rest = rest.RestServer(
                    self.registry, self.host, self.rest_api_port,
                    **self._rest_options).start()
                self.rest_api_port = self._rest.port
        except BaseException:
            self.stop()
            raise
        self.registry.start_polling(self._poll_seconds)
        if self._config_file and self._config_poll_seconds > 0:
            self._config_thread = threading.Thread(
                target=self._poll_config, name="config-poller", daemon=True)
            self._config_thread.start()
        logging.info("Running gRPC ModelServer at %s ...", self.grpc_address)
        if self._rest is not None:
            logging.info("Exporting HTTP/REST API at:%s ...", self.rest_url)
        return self

    def _start_grpc(self):
        self._grpc = grpc.server(
            concurrent.futures.ThreadPoolExecutor(
                max_workers=self._grpc_max_threads,
                thread_name_prefix="grpc"),
            options=list(self._grpc_options.items()),
            maximum_concurrent_rpcs=(self._grpc_max_threads
                                     * _GRPC_QUEUE_PER_THREAD))
        grpc_services.add_services(self._grpc, self.registry)
        address = f"{_url_host(self.host)}:{self.port}"
        try:
            port = self._grpc.add_insecure_port(address)
        except RuntimeError as e:
            raise RuntimeError(f"cannot bind gRPC to {address}: {e}") from None
        if port == 0:
            raise RuntimeError(f"cannot bind gRPC to {address}")
        self.port = port
        self._grpc.start()

    def _poll_config(self):
        while not self._stopped.wait(self._config_poll_seconds):
            try:
                config = model_registry.read_config_file(self._config_file)
                text = config.SerializeToString()
                if text != self._config_text:
                    logging.info("Reloading %s", self._config_file)
                    self._config_text = text
                    self.registry.reload_config(config)
            except ValueError as e:
                logging.error("not reloading the model config: %s", e)

    def stop(self, grace: float = 2.0) -> None:
        """Stops accepting requests, lets running ones finish, unloads."""
        self._stopped.set()
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
            self._grpc = None
        if self._rest is not None:
            self._rest.stop()
            self._rest = None
        if self._config_thread is not None:
            self._config_thread.join()
        self.registry.stop()

    def wait(self) -> None:
        """Blocks until `stop` (from another thread or a signal handler)."""
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_subprocess(config_file, model_names, log=None, timeout=300.0,
                     extra_flags=()):
    """Runs `python -m serving.dev_server` in a process of its own on free
    loopback ports, and waits until every model in `model_names` has a
    version available.

    Args:
        log: file object for the server's output (default: this process's).
        extra_flags: more command-line flags, e.g. ("--max_batch_size=64",).

    Returns:
        (subprocess.Popen, gRPC address, REST address), both "HOST:PORT".

    Raises:
        RuntimeError: the server exited, or did not load the models within
            `timeout` seconds (it is then killed).
    """
    from serving import client

    grpc_port, rest_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serving.dev_server",
         f"--model_config_file={config_file}", f"--port={grpc_port}",
         f"--rest_api_port={rest_port}", *extra_flags],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdout=log, stderr=log)
    address = f"127.0.0.1:{grpc_port}"
    deadline = time.monotonic() + timeout
    for name in model_names:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the dev server exited with status "
                                   f"{process.returncode}")
            try:
                if any(s.state == "AVAILABLE" for s in
                       client.get_model_status(address, name, timeout=2)):
                    break
            except client.ServingClientError:
                pass  # not listening yet, or the model not loaded yet
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the dev server did not load {name} in "
                                   f"{timeout:.0f} s")
            time.sleep(0.2)
    return process, address, f"127.0.0.1:{rest_port}"


def _url_host(host):
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


FLAGS = flags.FLAGS


def server_from_flags() -> DevServer:
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
    return DevServer(
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
        grpc_channel_arguments=dev_server_flags.parse_channel_arguments(
            FLAGS.grpc_channel_arguments),
        max_request_bytes=FLAGS.max_request_bytes,
        rest_api_num_threads=FLAGS.rest_api_num_threads,
        rest_api_timeout_in_ms=FLAGS.rest_api_timeout_in_ms)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        server = server_from_flags().start()
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
    server.stop()
    logging.info("Stopped")
    return 0


if __name__ == "__main__":
    dev_server_flags.define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
