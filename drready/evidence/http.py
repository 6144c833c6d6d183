"""HTTP exchanges in the run's evidence, on channel ``http``, in the form the bundle's HAR reads.

Both directions of the server topology use it: the harness's own servers (the DR servicer) log
what they receive and answer with :func:`evidence_middleware`; the harness's clients (of a maker's
cloud) log what they send and get with :func:`record_request` / :func:`record_response`.
Credentials are redacted by :meth:`drready.evidence.EvidenceLog.add` (header values such as
``Authorization``) and by :func:`drready.evidence.redact.redact_body` (secret-named JSON fields),
so a bearer token or client secret never enters the hash-chained log.

A JSON body is stored parsed (so the evidence shows the document, not a string of it); anything
else is stored as text. Bodies longer than :data:`MAX_BODY` characters are cut, saying so.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from drready.evidence import EvidenceSink, Record
from drready.evidence.redact import redact_body

#: The evidence channel of HTTP records (the bundle's HAR is built from it).
CHANNEL = "http"
#: Longest body kept in the evidence, in characters.
MAX_BODY = 64 * 1024

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(headers: Headers) -> list[list[str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [[str(name), str(value)] for name, value in items]


def _body(body: bytes | str | None, content_type: str) -> Any:
    if body is None or body in (b"", ""):
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if "json" in content_type.lower():
        try:
            # Parsed once: EvidenceLog.add redacts the parsed document field by field, which is
            # what redact_body would have done to it (a second parse and walk cost as much as
            # the rest of the exchange).
            return json.loads(text)
        except ValueError:
            pass  # not JSON after all: kept as text, which is what the peer sent
    if len(text) > MAX_BODY:
        return text[:MAX_BODY] + f"... [{len(text) - MAX_BODY} more characters]"
    return redact_body(text, content_type)


def _content_type(headers: Headers) -> str:
    for name, value in _pairs(headers):
        if name.lower() == "content-type":
            return value
    return ""


def record_request(
    evidence: EvidenceSink,
    peer: str,
    method: str,
    url: str,
    headers: Headers,
    body: bytes | str | None = None,
    *,
    sent: bool = True,
    note: str = "",
) -> Record:
    """A request the harness ``sent`` (kind ``tx``) or received (kind ``rx``) from ``peer``."""
    start = {"method": method, "url": url}
    return _record(evidence, peer, f"{method} {url}", start, headers, body, sent, note)


def record_response(
    evidence: EvidenceSink,
    peer: str,
    status: int,
    reason: str,
    headers: Headers,
    body: bytes | str | None = None,
    *,
    sent: bool = False,
    note: str = "",
) -> Record:
    """A response the harness received (kind ``rx``) or ``sent`` (kind ``tx``) to ``peer``.

    It answers the oldest unanswered request of the same peer (that is how the HAR pairs them).
    """
    start = {"status": status, "status_text": reason}
    return _record(evidence, peer, f"{status} {reason}", start, headers, body, sent, note)


def _record(
    evidence: EvidenceSink,
    peer: str,
    summary: str,
    start: dict[str, Any],
    headers: Headers,
    body: bytes | str | None,
    sent: bool,
    note: str,
) -> Record:
    """One HTTP message: its start line's fields, headers and body, in the HAR's form."""
    return evidence.add(
        "tx" if sent else "rx",
        CHANNEL,
        peer,
        summary + (f" ({note})" if note else ""),
        values={
            **start,
            "headers": _pairs(headers),
            "body": _body(body, _content_type(headers)),
            "http_version": "HTTP/1.1",
        },
    )


def peer_of(request: web.BaseRequest) -> str:
    """``host:port`` of the client of a request to one of the harness's servers."""
    peername = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"{peername[0]}:{peername[1]}"
    return request.remote or "?"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def evidence_middleware(evidence: EvidenceSink) -> Any:
    """aiohttp middleware logging every request a harness server receives and its answer.

    The request is logged before the handler runs (so a handler's own evidence follows it), the
    answer after. An exception the handler raises (``HTTPException`` included) is logged as the
    answer it becomes.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = peer_of(request)
        body = await request.read() if request.can_read_body else b""
        record_request(
            evidence,
            peer,
            request.method,
            str(request.url),
            request.headers.items(),
            body,
            sent=False,
        )
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            record_response(
                evidence, peer, exc.status, exc.reason, exc.headers.items(), exc.text, sent=True
            )
            raise
        except Exception as exc:
            record_response(evidence, peer, 500, "Internal Server Error", {}, repr(exc), sent=True)
            raise
        answer = response.body if isinstance(response, web.Response) else None
        record_response(
            evidence,
            peer,
            response.status,
            response.reason,
            response.headers.items(),
            answer if isinstance(answer, bytes | str) else None,
            sent=True,
        )
        return response

    return middleware
