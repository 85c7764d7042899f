"""A real HTTP receiver for webhook tests, on a local port: it records every request and answers
as told (a status per request, a delay, a redirect, an oversized body)."""

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Behaviour:
    """How the receiver answers: `statuses` in turn (the last one repeats), after `delay` seconds."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    def __init__(self, port: int = 0) -> None:
        """Listen on `port` (0: any free one; a fixed one lets a test bring a "down" endpoint up)."""
        self.received: list[Received] = []
        self.behaviour = Behaviour()
        self._answered = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                status, behaviour = receiver._next(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                )
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                try:
                    self.send_response(status)
                    for name, value in behaviour.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(behaviour.body)))
                    self.end_headers()
                    self.wfile.write(behaviour.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _next(self, request: Received) -> tuple[int, Behaviour]:
        with self._changed:
            self.received.append(request)
            behaviour = self.behaviour
            status = behaviour.statuses[min(self._answered, len(behaviour.statuses) - 1)]
            self._answered += 1
            self._changed.notify_all()
        return status, behaviour

    def answer(self, *statuses: int, delay: float = 0.0, body: bytes = b"ok", headers: dict[str, str] | None = None):
        """Answer the next requests with `statuses` in turn (the last one repeats)."""
        with self._lock:
            self.behaviour = Behaviour(list(statuses), delay, body, headers or {})
            self._answered = 0

    def ids(self) -> list[str]:
        """Return the webhook-id of every request received, in order (a retried one appears again)."""
        with self._lock:
            return [request.webhook_id for request in self.received]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> list[Received]:
        """Wait until `predicate(received)` holds; return what was received (fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver got {len(self.received)} requests, not what was expected")
                self._changed.wait(left)
            return list(self.received)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """Return a local port nothing listens on (an endpoint that is down, until a Receiver takes it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
