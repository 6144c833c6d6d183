"""The OpenADR 3.1.0 REST API a VEN uses: routes and handlers.

Programs and events are business logic's to write (a VEN that tries gets 403, after its body
is checked); reports, subscriptions and vens are the VEN's own. Every document a client sends
is validated against its schema: an invalid one is answered 400 and becomes a :class:`Finding`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL, peer_of
from drready.openadr.server.notifier import Notifier
from drready.openadr.server.problem import Problem, json_response
from drready.openadr.server.records import Finding
from drready.openadr.server.store import OBJECT_TYPE, REQUEST_SCHEMA, ObjectStore
from drready.openadr.server.times import now_epoch
from drready.openadr.server.tokens import Tokens, credentials
from drready.openadr.validation import errors

#: OpenAPI ``limit`` of every search: ``maximum: 50``.
MAX_LIMIT = 50
#: The events an answer carried, for :meth:`Servicer.fetched_event`.
EVENT_IDS = web.RequestKey("drready_event_ids", list[str])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ClientHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def _paging(request: web.Request) -> tuple[int, int | None]:
    def number(name: str, top: int | None) -> int | None:
        text = request.query.get(name)
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            raise Problem(400, f"{name} must be an integer, not {text!r}") from None
        if value < 0 or (top is not None and value > top):
            raise Problem(400, f"{name} must be 0..{top if top is not None else ''}")
        return value

    return number("skip", None) or 0, number("limit", MAX_LIMIT)


def _kind(request: web.Request) -> str:
    return request.path.strip("/").split("/")[0]


class RestApi:
    """The handlers, over one servicer's store, tokens and notifier."""

    def __init__(
        self,
        evidence: EvidenceSink,
        store: ObjectStore,
        tokens: Tokens,
        notifier: Notifier,
        findings: list[Finding],
        base_url: Callable[[], str],
    ) -> None:
        self._evidence = evidence
        self._store = store
        self._tokens = tokens
        self._notifier = notifier
        self._findings = findings
        self._base_url = base_url

    def routes(self, app: web.Application) -> None:
        add = app.router.add_route
        add("POST", "/auth/token", self._token)
        add("GET", "/auth/server", self._auth_server)
        add("GET", "/notifiers", self._authed(self._notifiers))
        for name in ("programs", "events"):
            add("GET", f"/{name}", self._authed(self._search))
            add("POST", f"/{name}", self._authed(self._bl_only))
            add("GET", f"/{name}/{{id}}", self._authed(self._get_one))
            add("PUT", f"/{name}/{{id}}", self._authed(self._bl_only))
            add("DELETE", f"/{name}/{{id}}", self._authed(self._bl_only))
        for name in ("reports", "subscriptions", "vens"):
            add("GET", f"/{name}", self._authed(self._search))
            add("POST", f"/{name}", self._authed(self._create))
            add("GET", f"/{name}/{{id}}", self._authed(self._get_one))
            add("PUT", f"/{name}/{{id}}", self._authed(self._update))
            add("DELETE", f"/{name}/{{id}}", self._authed(self._delete))

    def _authed(self, handler: ClientHandler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            client_id = self._tokens.client_of(request)
            if not client_id:
                header = request.headers.get("Authorization", "")
                why = "a valid bearer token is required" if header else "no bearer token"
                raise Problem(401, why)
            return await handler(request, client_id)

        return checked

    # -- what clients send ------------------------------------------------------------------------
    def _finding(self, request: web.Request, schema: str, document: Any, found: list[str]) -> None:
        client_id = self._tokens.client_of(request)
        peer = peer_of(request)
        finding = Finding(
            now_epoch(),
            client_id,
            peer,
            request.method,
            request.path,
            schema,
            document,
            tuple(found),
        )
        self._findings.append(finding)
        self._evidence.add(
            "note",
            CHANNEL,
            peer,
            f"schema violation: {request.method} {request.path} is not a valid {schema}"
            + (f" (client {client_id})" if client_id else ""),
            values={
                "client_id": client_id,
                "method": request.method,
                "path": request.path,
                "schema": schema,
                "document": document,
                "errors": found,
            },
        )

    async def _document(self, request: web.Request, schema: str) -> dict[str, Any]:
        """The request's JSON body, valid against ``schema``; else a finding and a 400."""
        raw = await request.read()
        text = raw.decode("utf-8", "replace")
        try:
            document = json.loads(raw)
        except ValueError as exc:
            self._finding(request, schema, text, [f"$: not JSON ({exc})"])
            raise Problem(400, f"the body is not JSON: {exc}") from None
        found = errors(schema, document, self._store.spec_version)
        if found:
            self._finding(request, schema, document, found)
            raise Problem(
                400, f"not a valid {schema}: " + "; ".join(found[:5]), extra={"errors": found}
            )
        return cast(dict[str, Any], document)

    # -- handlers ---------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.StreamResponse:
        """OAuth2 client credentials (RFC 6749 section 4.4), form body or HTTP Basic."""
        params = await credentials(request)
        found = errors("clientCredentialRequest", params, self._store.spec_version)
        if found:
            raw = await request.read()
            shown = {k: ("[redacted]" if k == "client_secret" else v) for k, v in params.items()}
            self._finding(
                request, "clientCredentialRequest", shown or raw.decode("utf-8", "replace"), found
            )
            grant = params.get("grant_type")
            kind = "unsupported_grant_type" if grant and grant != "client_credentials" else None
            raise Problem(
                400,
                "; ".join(found),
                extra={"error": kind or "invalid_request", "error_description": found[0]},
            )
        client_id = params["client_id"]
        self._tokens.authenticate(client_id, params["client_secret"])
        answer = {
            "access_token": self._tokens.issue(client_id),
            "token_type": "Bearer",
            "expires_in": int(self._tokens.ttl_s),
        }
        self._store.check_ours("token", answer)
        response = json_response(answer)
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
        return response

    async def _auth_server(self, request: web.Request) -> web.StreamResponse:
        answer = {"tokenURL": f"{self._base_url()}/auth/token"}
        self._store.check_ours("authServerInfo", answer)
        return json_response(answer)

    async def _notifiers(self, request: web.Request, client_id: str) -> web.StreamResponse:
        answer = {"WEBHOOK": True}
        self._store.check_ours("notifiersResponse", answer)
        return json_response(answer)

    async def _bl_only(self, request: web.Request, client_id: str) -> web.StreamResponse:
        """Writes of programs and events are business logic's (scopes write_programs and
        write_events); a VEN's body is still checked, then refused."""
        if request.method in ("POST", "PUT"):
            schema = "programRequest" if request.path.startswith("/programs") else "eventRequest"
            await self._document(request, schema)
        raise Problem(403, f"{request.method} {request.path} is for business logic, not a VEN")

    async def _search(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind = _kind(request)
        table = self._store.table(kind)
        query = request.query
        skip, limit = _paging(request)
        targets = query.getall("targets", [])
        found: list[dict[str, Any]] = []
        for obj in table.values():
            served = self._store.visible(kind, obj, client_id, targets)
            if served is None or not self._store.matches(kind, served, query):
                continue
            found.append(served)
        found = found[skip:] if limit is None else found[skip : skip + limit]
        if kind == "events":
            request[EVENT_IDS] = [e["id"] for e in found]
        return json_response(found)

    async def _get_one(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind = _kind(request)
        object_id = request.match_info["id"]
        obj = self._store.table(kind).get(object_id)
        served = None if obj is None else self._store.visible(kind, obj, client_id, None)
        if kind in ("programs", "events") and obj is not None and served is None:
            # An object with targets is found by id only with targets in the query.
            targets = request.query.getall("targets", [])
            served = self._store.visible(kind, obj, client_id, targets)
        if served is None:
            raise Problem(404, f"no {kind[:-1]} {object_id!r}")
        if kind == "events":
            request[EVENT_IDS] = [object_id]
        return json_response(served)

    def _own(self, request: web.Request, client_id: str) -> tuple[str, dict[str, Any]]:
        kind = _kind(request)
        object_id = request.match_info["id"]
        obj = self._store.table(kind).get(object_id)
        if obj is None or obj.get("clientID") != client_id:
            raise Problem(404, f"no {kind[:-1]} {object_id!r} of this client")
        return kind, obj

    async def _create(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind = _kind(request)
        document = await self._document(request, REQUEST_SCHEMA[kind])
        stored = self._store.client_write(kind, client_id, document, None)
        self._store.table(kind)[stored["id"]] = stored
        self._after_write(kind, "CREATE", client_id, stored)
        return json_response(stored, status=201)

    async def _update(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, old = self._own(request, client_id)
        document = await self._document(request, REQUEST_SCHEMA[kind])
        stored = self._store.client_write(kind, client_id, document, old)
        self._store.table(kind)[stored["id"]] = stored
        self._after_write(kind, "UPDATE", client_id, stored)
        return json_response(stored)

    async def _delete(self, request: web.Request, client_id: str) -> web.StreamResponse:
        kind, old = self._own(request, client_id)
        del self._store.table(kind)[old["id"]]
        self._notifier.spawn(self._notifier.notify(OBJECT_TYPE[kind], "DELETE", old))
        return json_response(old)

    def _after_write(
        self, kind: str, operation: str, client_id: str, stored: dict[str, Any]
    ) -> None:
        if kind == "reports":
            self._store.log_report(client_id, operation, stored)
        self._notifier.spawn(self._notifier.notify(OBJECT_TYPE[kind], operation, stored))
