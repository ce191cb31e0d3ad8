"""HTTP plumbing: one threaded HTTP/1.1 server per service on 127.0.0.1, ephemeral port.

The server parses each request into a ``core.Request`` and hands it to a *front* callable,
which answers a ``core.Response`` or ``None`` (drop the connection with a TCP reset, the
way an injected network fault looks to a client).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from mlops_infra.emulator.core import Request, Response

Front = Callable[[Request], "Response | None"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without it, Nagle + delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        request = Request(method=self.command, path=parts.path,
                          query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                          headers=dict(self.headers.items()), body=self._read_body(),
                          base_url=f"http://{self.headers.get('Host', '127.0.0.1')}")
        response = self.server.front(request)
        if response is None:
            self._reset()
        else:
            self._send(response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        no_body = response.status in (204, 304) or self.command == "HEAD"
        self.send_header("Content-Length", "0" if response.status in (204, 304)
                         else str(len(response.body)))
        self.end_headers()
        if not no_body:
            self.wfile.write(response.body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees a reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, front: Front) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.front = front
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def drop_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HttpServer:
    """A running server for one front; ``url`` is its base address."""

    def __init__(self, front: Front) -> None:
        self._server = _Server(front)
        self._port = self._server.server_address[1]
        self._stopped = False
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        try:
            socket.create_connection(("127.0.0.1", self._port), timeout=0.1).close()
        except OSError:
            pass                # not listening any more (the loop has stopped), or busy

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def stop(self) -> None:
        if self._stopped:       # once: the port may belong to someone else by now
            return
        self._stopped = True
        # ``shutdown`` waits for the serve loop to look at its flag, which it does when a
        # connection arrives or at its next poll (up to 0.05 s). A connection of our own
        # wakes it at once: stopping the quickstart's servers took 0.04 s of each run.
        stopping = threading.Thread(target=self._server.shutdown)
        stopping.start()
        while stopping.is_alive():
            self._wake()
            stopping.join(0.005)
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join()
