"""OAuth2 client credentials (RFC 6749 section 4.4): the tokens a VEN gets and presents."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from aiohttp import web

from drready.openadr.server.problem import Problem
from drready.openadr.server.times import now_epoch


@dataclass
class _Token:
    client_id: str
    expires_at: float


async def credentials(request: web.Request) -> dict[str, str]:
    """The token request's parameters, from a form body and/or HTTP Basic."""
    params: dict[str, str] = {}
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    basic = request.headers.get("Authorization", "")
    if basic[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(basic[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(
                400, "malformed Basic credentials", extra={"error": "invalid_request"}
            ) from None
        # RFC 6749 section 2.3.1: both are form-urlencoded before Basic encoding.
        params.setdefault("client_id", unquote_plus(user))
        params.setdefault("client_secret", unquote_plus(password))
    return params


class Tokens:
    """The clients and their secrets, and the bearer tokens handed out, each valid ``ttl_s``."""

    def __init__(self, clients: Mapping[str, str], ttl_s: float) -> None:
        self._clients = dict(clients)
        self.ttl_s = ttl_s
        self._tokens: dict[str, _Token] = {}
        #: Tokens issued here that have since expired: a request carrying one had credentials
        #: (a copy held on a lossy link can arrive after its token's end), unlike one with none.
        self._expired: set[str] = set()

    def authenticate(self, client_id: str, secret: str) -> None:
        """Return when the secret is the client's, else a 401 :class:`Problem`."""
        expected = self._clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected.encode(), secret.encode()):
            raise Problem(
                401,
                "unknown client or wrong secret",
                headers={"WWW-Authenticate": 'Basic realm="openadr3"'},
                extra={
                    "error": "invalid_client",
                    "error_description": "client authentication failed",
                },
            )

    def issue(self, client_id: str) -> str:
        """A new bearer token for the client."""
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(client_id, now_epoch() + self.ttl_s)
        return token

    def client_of(self, request: web.Request) -> str:
        """The client the request's bearer token names; "" when none is valid (an expired one
        is forgotten)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return ""
        held = self._tokens.get(token.strip())
        if held is None:
            return ""
        if now_epoch() >= held.expires_at:
            del self._tokens[token.strip()]
            self._expired.add(token.strip())
            return ""
        return held.client_id

    def expired(self, request: web.Request) -> bool:
        """Whether the request's bearer token is one issued here that has expired (call after
        :meth:`client_of`, which retires it)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() in self._expired

    def revoke(self, client_id: str | None = None) -> None:
        """Invalidate the tokens of one client (or of all)."""
        for token, held in list(self._tokens.items()):
            if client_id is None or held.client_id == client_id:
                del self._tokens[token]
