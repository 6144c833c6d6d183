"""Error answers: every OpenADR 3 error is a problem document (RFC 7807)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

#: RFC 6750 section 3: a resource server answers a missing or bad token with this challenge.
BEARER_CHALLENGE = 'Bearer realm="openadr3"'


class Problem(Exception):
    """Answer with a problem document (RFC 7807), as every OpenADR 3 error answer is."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def problem_document(request: web.Request, problem: Problem) -> dict[str, Any]:
    """The problem document answering ``request`` (not yet validated)."""
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": reason(problem.status),
        "status": problem.status,
        "detail": problem.detail,
        "instance": str(request.url),
    }
    document.update(problem.extra)
    return document


def json_response(document: Any, status: int = 200) -> web.Response:
    """A compact JSON answer."""
    return web.Response(
        text=json.dumps(document, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )
