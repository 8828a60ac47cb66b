"""A bounded HTTP/1.1 server for the dev server's REST API (stdlib only).

`http.server.ThreadingHTTPServer` listens with a backlog of 5 (bursts of
connections are reset), starts a thread per connection without limit and
holds a half-sent request open forever. This server instead:
- listens with a backlog of `backlog` (the kernel caps it at somaxconn);
- runs connections on a pool of `num_threads` workers
  (tensorflow_model_server's --rest_api_num_threads); at most `backlog`
  accepted connections wait for a worker, more are answered 503;
- gives each request `timeout_seconds` (--rest_api_timeout_in_ms) from its
  first byte to its last: a watchdog shuts the socket of a client still
  sending after that (slowloris), and an idle keep-alive connection is
  closed after as long; every socket operation also times out so;
- requires Content-Length (or chunked encoding) on requests with a body
  (411) and refuses bodies over `max_body_bytes` before reading them (413).
"""

import concurrent.futures
import http.server
import select
import socket
import socketserver
import threading
import time

from absl import logging

_BODY_METHODS = ("POST", "PUT", "PATCH")


class BodyError(Exception):
    """A request body that is refused: (HTTP status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(http.server.BaseHTTPRequestHandler):
    """Base request handler: `read_body` enforces the server's limits, and
    the request's read deadline ends once the body is read."""

    protocol_version = "HTTP/1.1"

    def handle_one_request(self):
        self.server.watch(self)
        try:
            super().handle_one_request()
        finally:
            self.server.unwatch(self)

    def handle_expect_100(self):
        try:
            self._declared_length()
        except BodyError as e:
            self.send_error_json(e.status, e.message)
            return False
        return super().handle_expect_100()

    def read_body(self) -> bytes:
        """The request body, within `max_body_bytes`.

        Raises:
            BodyError: 400, 411 or 413; the connection is then closed.
            ConnectionError: the client stopped sending (or was cut off by
                the watchdog) before the end of its body.
        """
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._read_chunked()
            else:
                length = self._declared_length()
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    raise ConnectionError("the client sent a short body")
        except BodyError:
            self.close_connection = True
            raise
        finally:
            self.server.unwatch(self)
        return body

    def _declared_length(self):
        limit = self.server.max_body_bytes
        value = self.headers.get("Content-Length")
        if value is None:
            if self.command in _BODY_METHODS and self.headers.get(
                    "Transfer-Encoding", "").lower() != "chunked":
                raise BodyError(411, f"{self.command} requires a "
                                     f"Content-Length header")
            return 0
        if not value.strip().isdigit():
            raise BodyError(400, f"Content-Length {value[:40]!r} is not a "
                                 f"number")
        length = int(value)
        if length > limit:
            raise BodyError(413, f"request body of {length} bytes exceeds "
                                 f"the limit of {limit} (--max_request_bytes)")
        return length

    def _read_chunked(self):
        chunks, total, limit = [], 0, self.server.max_body_bytes
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                if not line:
                    raise ConnectionError("the client stopped sending")
                raise BodyError(400, "malformed chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # Trailers.
                return b"".join(chunks)
            total += size
            if total > limit:
                raise BodyError(413, f"chunked request body exceeds the "
                                     f"limit of {limit} bytes "
                                     f"(--max_request_bytes)")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ConnectionError("the client sent a short chunk")
            chunks.append(chunk)
            self.rfile.readline(1024)

    def client_connected(self) -> bool:
        """False once the client has closed its end (a peek sees EOF)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            # (A socket with a timeout would wait in recv: peek only when
            # something, maybe EOF, is there.)
            return not readable or self.connection.recv(
                1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False

    def send_json(self, status: int, data: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: int, message: str):
        self.close_connection = True
        escaped = message.replace("\\", "\\\\").replace('"', '\\"')
        self.send_json(status, f'{{"error": "{escaped}"}}'.encode())

    def log_message(self, format, *args):  # noqa: A002 - the base's name.
        logging.vlog(1, "REST %s: " + format, self.address_string(), *args)


class PooledHttpServer(socketserver.TCPServer):
    """A TCP server running `handler_class` on a bounded worker pool.

    Args:
        address: (host, port).
        handler_class: a `Handler` subclass.
        num_threads: int. Workers (connections served at once).
        timeout_seconds: float. Per request: reading it (counted from when
            a worker takes the connection), and each socket operation.
        max_body_bytes: int. Largest request body.
        backlog: int. listen() backlog and most connections waiting for a
            worker.
    """

    allow_reuse_address = True

    def __init__(self, address, handler_class, *, num_threads,
                 timeout_seconds, max_body_bytes, backlog=1024):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.request_queue_size = backlog
        self.timeout_seconds = timeout_seconds
        self.max_body_bytes = max_body_bytes
        self._backlog = backlog
        self._pool = concurrent.futures.ThreadPoolExecutor(
            num_threads, thread_name_prefix="rest")
        self._lock = threading.Lock()
        self._waiting = 0  # Accepted connections not yet on a worker.
        self._deadlines = {}  # Handler -> monotonic read deadline.
        self._closed = threading.Event()
        self._watchdog = threading.Thread(target=self._watch_loop,
                                          name="rest-watchdog", daemon=True)
        # A port already taken raises here, after server_close.
        super().__init__(address, handler_class)
        self._watchdog.start()

    def process_request(self, request, client_address):
        with self._lock:
            full = self._waiting >= self._backlog
            if not full:
                self._waiting += 1
        request.settimeout(self.timeout_seconds)
        if full:
            self._refuse(request)
            return
        self._pool.submit(self._work, request, client_address)

    def _refuse(self, request):
        try:
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\n"
                            b"Content-Type: application/json\r\n"
                            b"Content-Length: 36\r\nConnection: close\r\n\r\n"
                            b'{"error": "too many open requests"}\n')
        except OSError:
            pass
        self.shutdown_request(request)

    def _work(self, request, client_address):
        with self._lock:
            self._waiting -= 1
        try:
            if not self._closed.is_set():
                self.finish_request(request, client_address)
        except (ConnectionError, socket.timeout) as e:
            logging.vlog(1, "REST %s: %s", client_address, e)
        except Exception:  # noqa: BLE001 - log, keep serving.
            logging.exception("REST connection from %s failed",
                              client_address)
        finally:
            self.shutdown_request(request)

    def watch(self, handler):
        """Starts `handler`'s read deadline (a request begins)."""
        with self._lock:
            self._deadlines[handler] = (time.monotonic()
                                        + self.timeout_seconds)
        if self._closed.is_set():
            _shutdown(handler)

    def unwatch(self, handler):
        with self._lock:
            self._deadlines.pop(handler, None)

    def _watch_loop(self):
        period = min(0.25, self.timeout_seconds / 4)
        while not self._closed.wait(period):
            now = time.monotonic()
            with self._lock:
                late = [h for h, t in self._deadlines.items() if t < now]
                for handler in late:
                    del self._deadlines[handler]
            for handler in late:
                logging.vlog(1, "REST %s: no complete request in %.1f s, "
                             "closing", handler.client_address,
                             self.timeout_seconds)
                _shutdown(handler)

    def server_close(self):
        """Closes the port and idle connections; lets running requests
        finish."""
        self._closed.set()
        super().server_close()
        with self._lock:
            reading = list(self._deadlines)
        for handler in reading:
            _shutdown(handler)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._watchdog.ident is not None:  # started
            self._watchdog.join()


def _shutdown(handler):
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # Already closed.
