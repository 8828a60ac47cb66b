"""`DevServer`: the gRPC and REST servers over a model registry, and
`start_subprocess` (a dev server in a process of its own, for tests and
benchmarks). See serving/dev_server/__init__.py.
"""

import concurrent.futures
import io
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

import grpc
from absl import logging

from serving.dev_server import grpc_services
from serving.dev_server import limits
from serving.dev_server import model_registry
from serving.dev_server import rest

# gRPC requests admitted at once (running or waiting for one of
# grpc_max_threads workers) per worker; more answer RESOURCE_EXHAUSTED
# rather than queue without bound.
_GRPC_QUEUE_PER_THREAD = 8
# Where `python -m serving.dev_server` finds the serving package.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


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
                self._start_rest()
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

    def _start_rest(self):
        try:
            self._rest = rest.RestServer(
                self.registry, self.host, self.rest_api_port,
                **self._rest_options).start()
        except OSError as e:
            raise RuntimeError(
                f"cannot bind REST to {_url_host(self.host)}:"
                f"{self.rest_api_port}: {e.strerror or e}") from None
        self.rest_api_port = self._rest.port

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


# What the server logs once its gRPC port is bound (as TF Serving does).
_GRPC_LISTENING = re.compile(r"Running gRPC ModelServer at (\S+) \.\.\.")
_REST_PORT_TAKEN = "cannot bind REST to"


def start_subprocess(config_file, model_names, log=None, timeout=300.0,
                     extra_flags=()):
    """Runs `python -m serving.dev_server` in a process of its own on free
    loopback ports, and waits until every model in `model_names` has a
    version available.

    gRPC binds port 0 and the address is read back from the server's log,
    so no other process can take it in between. REST has no "any free
    port" value (TF Serving's --rest_api_port=0 turns REST off): a port
    found free is used, and if another process binds it first the server
    is started again on a new one (3 tries).

    Args:
        log: file object the server's output is copied to (default: this
            process's stderr).
        extra_flags: more command-line flags, e.g. ("--max_batch_size=64",).

    Returns:
        (subprocess.Popen, gRPC address, REST address), both "HOST:PORT".

    Raises:
        RuntimeError: the server exited, or did not load the models within
            `timeout` seconds (it is then killed).
    """
    from serving.client import lib as client

    deadline = time.monotonic() + timeout
    for attempt in range(3):
        rest_port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.dev_server",
             f"--model_config_file={config_file}", "--port=0",
             f"--rest_api_port={rest_port}", *extra_flags],
            cwd=_REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace")
        lines = _copy_lines(process.stdout, log or sys.stderr)
        address, output = _wait_for_line(process, lines, deadline)
        if address is not None:
            break
        if process.poll() is None:
            process.kill()
            raise RuntimeError(f"the dev server did not start in "
                               f"{timeout:.0f} s")
        if _REST_PORT_TAKEN not in output or attempt == 2:
            raise RuntimeError(f"the dev server exited with status "
                               f"{process.returncode}")
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
                pass  # the model not loaded yet
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the dev server did not load {name} in "
                                   f"{timeout:.0f} s")
            time.sleep(0.2)
    return process, address, f"127.0.0.1:{rest_port}"


def _copy_lines(stream, sink):
    """A queue of `stream`'s lines, each also written to `sink`, fed by a
    daemon thread until the stream ends (then None), so that the reader
    can wait with a timeout and the server never blocks on a full pipe."""
    lines = queue.Queue()
    try:  # A file: written through a descriptor of our own, so the server's
        # log still reaches it once the caller has closed its file object.
        descriptor = os.dup(sink.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        descriptor = None

    def copy():
        for line in stream:
            if descriptor is None:
                sink.write(line)
                sink.flush()
            else:
                os.write(descriptor, line.encode())
            lines.put(line)
        lines.put(None)
        if descriptor is not None:
            os.close(descriptor)

    threading.Thread(target=copy, name="dev-server-log", daemon=True).start()
    return lines


def _wait_for_line(process, lines, deadline):
    """(gRPC address, output so far) once the server logs it; (None,
    output) if the output ends or the deadline passes first."""
    output = []
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            return None, "".join(output)
        if line is None:
            process.wait()
            return None, "".join(output)
        output.append(line)
        match = _GRPC_LISTENING.search(line)
        if match:
            return match.group(1), "".join(output)


def _url_host(host):
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
