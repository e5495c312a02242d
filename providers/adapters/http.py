"""The one HTTP choke point for provider traffic: timeouts, connection reuse, error
mapping of transport failures, redaction, and an optional recorder for ProviderLog rows.

Adapters never touch httpx directly; they call `ProviderHttp.request(...)` and map the
provider's status codes and bodies onto the error hierarchy themselves.
"""

from __future__ import annotations

import functools
import json
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from .errors import Unavailable

BODY_CAP = 8 * 1024  # bytes of each body kept in a log
SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|credential|hmac|signature|auth",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
# Every match of SECRET_KEYS contains one of these.
_SECRET_STEMS = (
    *("pass", "secret", "token", "apikey", "api_key", "api-key"),
    *("auth", "credential", "hmac", "signature"),
)
_ESCAPED_LETTER = re.compile(r"\\u00[4-7][0-9a-f]", re.IGNORECASE)


@dataclass
class Exchange:
    """One request/response, already redacted and capped, for the ProviderLog."""

    method: str
    url: str
    status: int | None
    duration_ms: int
    request_body: str
    response_body: str
    error: str = ""


Recorder = Callable[[Exchange], None]


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode(
        [(k, REDACTED if SECRET_KEYS.search(k) else v) for k, v in parse_qsl(parts.query, True)]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _redact_obj(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else _redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_obj(v) for v in obj]
    return obj


def _could_hold_secret(text: str) -> bool:
    """Whether a JSON text may have a secret key: a stem of one appears anywhere in the text,
    or an ASCII letter is written as an escape (a key could be spelled that way). Substring
    tests: the regex over a 40 kB history page was a fifth of a sync worker's CPU."""
    lowered = text.lower()
    return any(stem in lowered for stem in _SECRET_STEMS) or bool(_ESCAPED_LETTER.search(text))


def redact_body(body: bytes | str | None, content_type: str = "") -> str:
    """Secrets out, size capped. JSON and form bodies are redacted by key."""
    if not body:
        return ""
    if isinstance(body, bytes):
        if "audio" in content_type or "image" in content_type or "octet-stream" in content_type:
            return f"<{len(body)} bytes of {content_type}>"
        text = body.decode("utf-8", "replace")
    else:
        text = body
    stripped = text.lstrip()
    if stripped[:1] in "{[" and not _could_hold_secret(text):
        pass  # kept as sent: a history page is logged without parsing it a second time
    elif stripped[:1] in "{[":
        try:
            text = json.dumps(_redact_obj(json.loads(text)), ensure_ascii=False)
        except ValueError:
            pass
    elif "=" in text and "\n" not in text[:200] and " " not in text[:200]:
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            text = urlencode([(k, REDACTED if SECRET_KEYS.search(k) else v) for k, v in pairs])
    if len(text) > BODY_CAP:
        text = text[:BODY_CAP] + f"… [{len(text) - BODY_CAP} more characters]"
    return text


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA bundle (~15 ms),
    which every send and webhook would otherwise pay for a new client."""
    return httpx.create_ssl_context()


class ProviderHttp:
    """An httpx.Client bound to one account's base URL and auth.

    `transport` lets tests (and the in-process sandbox) replace the network.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        recorder: Recorder | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self.client = httpx.Client(
            base_url=self.base_url,
            verify=shared_ssl_context(),
            auth=auth,
            headers={"User-Agent": "Switchboard/1.0", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ProviderHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request. Transport failures become `Unavailable`; HTTP statuses are
        returned as they are, for the adapter to interpret."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        request = self.client.build_request(
            method, url, params=params, data=data, json=json_body, headers=headers
        )
        started = time.monotonic()
        try:
            response = self.client.send(request)
            response.read()
        except httpx.TimeoutException as exc:
            # A connect timeout never reached the provider; a read/write timeout may have.
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            self._record(request, None, started, f"timeout ({type(exc).__name__})")
            raise Unavailable("The provider did not answer in time.", request_sent=sent) from None
        except (httpx.ConnectError, httpx.ProxyError) as exc:
            self._record(request, None, started, f"connection failed ({type(exc).__name__})")
            raise Unavailable("Could not connect to the provider.", request_sent=False) from None
        except httpx.TransportError as exc:  # RemoteProtocolError, ReadError: dropped mid-way
            self._record(request, None, started, f"connection dropped ({type(exc).__name__})")
            raise Unavailable("The connection to the provider was dropped.", request_sent=True) from None
        self._record(request, response, started, "")
        return response

    def stream(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, chunk_size: int = 64 * 1024
    ) -> Iterator[bytes]:
        """Stream a binary body (recordings, media) without holding it in memory."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        started = time.monotonic()
        try:
            with self.client.stream(method, url, params=params) as response:
                self._record(response.request, response, started, "", streamed=True)
                if response.status_code >= 400:
                    response.read()
                    raise StreamError(response)
                yield from response.iter_bytes(chunk_size)
        except httpx.TimeoutException:
            raise Unavailable("The provider did not answer in time.", request_sent=True) from None
        except httpx.TransportError:
            raise Unavailable("The connection to the provider was dropped.", request_sent=True) from None

    def _record(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        started: float,
        error: str,
        streamed: bool = False,
    ) -> None:
        if self.recorder is None:
            return
        duration_ms = int((time.monotonic() - started) * 1000)
        response_body = ""
        if response is not None and not streamed:
            response_body = redact_body(response.content, response.headers.get("content-type", ""))
        try:
            request_body = redact_body(request.content, request.headers.get("content-type", ""))
        except httpx.RequestNotRead:
            request_body = "<stream>"
        self.recorder(
            Exchange(
                method=request.method,
                url=redact_url(str(request.url)),
                status=response.status_code if response is not None else None,
                duration_ms=duration_ms,
                request_body=request_body,
                response_body=response_body,
                error=error,
            )
        )


class StreamError(Exception):
    """A streamed download answered with an HTTP error; adapters map it."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
