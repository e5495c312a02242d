"""The sandbox as its own process: a threaded HTTP server, a webhook courier that POSTs
due webhooks, and an optional emitter of inbound traffic so the demo looks alive."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx

from .core import HTTP_REASONS, Sandbox

log = logging.getLogger("sandbox")


def make_handler(sandbox: Sandbox, stall_seconds: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle on, the body waits for the ACK
        # of the headers, which the client delays (~40 ms a response on Linux loopback).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            response = sandbox.handle(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query, keep_blank_values=True)),
                dict(self.headers.items()),
                body,
                self.client_address[0],
            )
            if response.after in ("timeout", "timeout_before"):
                time.sleep(stall_seconds)  # longer than any sane client timeout
                self.close_connection = True
                return
            if response.after == "drop":
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(response.status, HTTP_REASONS.get(response.status))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, fmt: str, *args) -> None:
            log.debug("%s " + fmt, self.client_address[0], *args)

    return Handler


class SandboxServer:
    def __init__(
        self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8025, *, stall_seconds: float = 60.0
    ):
        self.sandbox = sandbox
        self.httpd = ThreadingHTTPServer((host, port), make_handler(sandbox, stall_seconds))
        self.httpd.daemon_threads = True
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def courier(self, interval: float = 1.0) -> None:
        """Deliver due webhooks until stopped, retrying failures with backoff."""
        with httpx.Client(timeout=10) as client:
            while not self._stop.wait(interval):
                try:
                    for hook in self.sandbox.deliver_webhooks(client, everything=False):
                        log.info("webhook %s %s -> %s", hook.provider, hook.url, hook.status)
                except Exception:  # keep the courier alive whatever one delivery did
                    log.exception("webhook delivery failed")

    def emitter(self, every: float, on_tick: Callable[[], None] | None = None) -> None:
        """Every `every` seconds, one inbound SMS or call on a random account."""
        rng = random.Random()
        while not self._stop.wait(every):
            if on_tick:
                on_tick()
            accounts = [a for accs in self.sandbox.accounts.values() for a in accs if a.parent is None]
            if not accounts:
                continue
            account = rng.choice(accounts)
            kind = rng.choice(["sms", "sms", "call"])
            try:
                self.sandbox.emit(account.provider, account, kind)
            except NotImplementedError:
                continue
            except Exception:
                log.exception("emit failed")

    def serve_forever(self, *, emit_every: float = 0, on_tick: Callable[[], None] | None = None) -> None:
        threads = [threading.Thread(target=self.courier, daemon=True)]
        if emit_every > 0 or on_tick:
            threads.append(
                threading.Thread(target=self.emitter, args=(emit_every or 10, on_tick), daemon=True)
            )
        for t in threads:
            t.start()
        try:
            self.httpd.serve_forever()
        finally:
            self._stop.set()
            self.httpd.server_close()

    def shutdown(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
