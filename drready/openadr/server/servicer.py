"""The :class:`Servicer`: life cycle, the outage and redirect modes, and the harness's side
(business logic writes programs and events; the verdicts read reports, requests, findings).

Why past 500 lines: it is the one public surface the harness drives (bindings, sessions, probes,
tests), and most of it is that surface's signatures and docstrings; the work behind each method
lives in :mod:`.store`, :mod:`.notifier`, :mod:`.tokens` and :mod:`.api`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL, evidence_middleware, peer_of
from drready.impairment import LinkImpairment
from drready.openadr.server.api import EVENT_IDS, RestApi
from drready.openadr.server.impair import abort_connection, impairment_middleware
from drready.openadr.server.notifier import Notifier
from drready.openadr.server.problem import (
    BEARER_CHALLENGE,
    Problem,
    problem_document,
)
from drready.openadr.server.records import (
    OUTAGES,
    Delivery,
    Finding,
    Outage,
    ReportRecord,
    RequestRecord,
    ServicerError,
    ServicerTimeout,
)
from drready.openadr.server.store import ObjectStore
from drready.openadr.server.times import aware, iso_duration, now_epoch, rfc3339
from drready.openadr.server.tokens import Tokens
from drready.openadr.validation import DEFAULT_VERSION, check_version, validate

T = TypeVar("T")


@dataclass
class _Waiters:
    """Wakes bounded waits when something they may be waiting for happened."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def bump(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class Servicer:
    """The harness's OpenADR 3 VTN. Bind with :meth:`start` (or ``async with``).

    ``clients`` maps each client ID to its secret (OAuth2 client credentials). ``ssl_context`` is
    the server's TLS context (None: plain HTTP, only on purpose). ``notify_ssl`` is what webhook
    deliveries verify the VEN's callback server with.
    """

    def __init__(
        self,
        evidence: EvidenceSink,
        *,
        clients: Mapping[str, str],
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_s: float = 3600.0,
        notify_timeout_s: float = 5.0,
        notify_ssl: ssl.SSLContext | bool = True,
        hold_limit_s: float = 3600.0,
        retry_after_s: int = 60,
        shutdown_timeout_s: float = 5.0,
        impairment: LinkImpairment | None = None,
        spec_version: str = DEFAULT_VERSION,
    ) -> None:
        self.evidence = evidence
        #: The OpenADR 3 release whose official schemas both directions are validated against.
        self.spec_version = check_version(spec_version)
        #: What the link does to each exchange (:mod:`drready.openadr.server.impair`).
        self.impairment = impairment
        self._ssl_context = ssl_context
        self._host = host
        self._port = port
        #: The longest a "silent" outage holds one request before dropping its connection.
        self.hold_limit_s = hold_limit_s
        #: Retry-After of the "503" outage, in seconds (RFC 9110 section 10.2.3).
        self.retry_after_s = retry_after_s
        self._shutdown_timeout_s = shutdown_timeout_s
        #: Answer every request with a redirect to this URL (+ the request's path) when set.
        self.redirect_to: str | None = None
        self.redirect_status = 307
        self.findings: list[Finding] = []
        self.requests: list[RequestRecord] = []
        #: When the link impairment lost a request or an answer (epoch seconds), in order.
        self.link_drops: list[float] = []
        self.errors: list[Exception] = []
        self._outage: Outage = "none"
        self._outage_changed = _Waiters()
        self._arrivals = _Waiters()
        self._last_request: dict[str, float] = {}
        self._store = ObjectStore(evidence, host, self.errors, self.spec_version)
        self._tokens = Tokens(clients, token_ttl_s)
        self._notifier = Notifier(
            evidence, self._store, self.errors, timeout_s=notify_timeout_s, verify=notify_ssl
        )
        self._api = RestApi(
            evidence, self._store, self._tokens, self._notifier, self.findings, self._base
        )
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.base_url = ""

    def _base(self) -> str:
        return self.base_url

    @property
    def token_ttl_s(self) -> float:
        return self._tokens.ttl_s

    @token_ttl_s.setter
    def token_ttl_s(self, seconds: float) -> None:
        self._tokens.ttl_s = seconds

    @property
    def notify_timeout_s(self) -> float:
        return self._notifier.timeout_s

    @notify_timeout_s.setter
    def notify_timeout_s(self, seconds: float) -> None:
        self._notifier.timeout_s = seconds

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook notification and its outcome, in order."""
        return self._notifier.deliveries

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> str:
        """Bind and serve; the base URL (``https://127.0.0.1:PORT``)."""
        if self._runner is not None:
            return self.base_url
        middlewares: list[Any] = [self._gate, evidence_middleware(self.evidence), self._service]
        if self.impairment is not None:
            middlewares.insert(
                0,
                impairment_middleware(
                    self.impairment,
                    self.evidence,
                    on_drop=lambda: self.link_drops.append(now_epoch()),
                ),
            )
        app = web.Application(middlewares=middlewares)
        self._api.routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout_s)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._closing = False
        address = runner.addresses[0]
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        scheme = "https" if self._ssl_context is not None else "http"
        self.base_url = f"{scheme}://{host}:{address[1]}"
        await self._notifier.open()
        return self.base_url

    async def close(self) -> None:
        """Stop serving: held requests are dropped, pending notifications finish (bounded)."""
        if self._runner is None:
            return
        self._closing = True
        self._outage_changed.bump()
        await self._notifier.drain()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        await self._notifier.drain()  # spawned by requests that were still being answered
        await self._notifier.close()

    def forget(self) -> None:
        """Drop what it kept for the verdicts (requests, reports, objects, deliveries) once the
        run is over and it is closed: the evidence holds every exchange, and the bundle written
        next needs the memory (a water heater's days of reports are tens of megabytes)."""
        if self._runner is not None:
            raise ServicerError("close the servicer before it forgets its records")
        self.requests.clear()
        self.link_drops.clear()
        self._store.clear()
        self._notifier.deliveries.clear()

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (host, port); the port chosen at the first start is kept."""
        return self._host, self._port

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    async def restart(self, ssl_context: ssl.SSLContext | None) -> str:
        """Stop and serve again at the same address with another TLS context (None: plain
        HTTP), keeping every object, token and record: a security probe offers a bad server
        where the device expects its own."""
        if self._runner is not None:
            self._port = self._runner.addresses[0][1]
        await self.close()
        self._ssl_context = ssl_context
        return await self.start()

    def serve_event_as_is(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Serve an event document exactly as given: its id and modificationDateTime kept, no
        notification. A replayed or tampered copy, for the security probes; it must still be
        a valid event (the probe is about the content, not the schema)."""
        document = dict(event)
        self._store.check_ours("event", document)
        self._store.known(self._store.programs, document["programID"], "program")
        self._store.events[str(document["id"])] = document
        return dict(document)

    async def __aenter__(self) -> Servicer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
        if exc_info[0] is None:
            self.check()

    def check(self) -> None:
        """Raise the first fault of the servicer itself, if it had one (never swallowed)."""
        if self.errors:
            raise self.errors[0]

    # -- run-time modes --------------------------------------------------------------------------
    @property
    def outage(self) -> Outage:
        return self._outage

    @outage.setter
    def outage(self, mode: Outage) -> None:
        if mode not in OUTAGES:
            raise ValueError(f"outage must be one of {', '.join(OUTAGES)}, not {mode!r}")
        if mode != self._outage:
            self.evidence.add("note", CHANNEL, self._host, f"servicer outage: {mode}")
        self._outage = mode
        self._outage_changed.bump()

    # -- the harness's side (business logic) -----------------------------------------------------
    def grant_targets(self, client_id: str, targets: Sequence[str]) -> None:
        """Grant a client targets (as BL writes them into its ven object): events and programs
        with targets are served to a VEN only for targets it was granted and asks for."""
        self._store.grant(client_id, targets)

    def revoke_tokens(self, client_id: str | None = None) -> None:
        """Invalidate the tokens of one client (or of all): its next request gets 401."""
        self._tokens.revoke(client_id)

    async def add_program(
        self,
        name: str,
        *,
        targets: Sequence[str] | None = None,
        payload_descriptors: Sequence[Mapping[str, Any]] | None = None,
        interval_period: Mapping[str, Any] | None = None,
        attributes: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create a program; subscribers are notified (awaited, bounded) before this returns."""
        request: dict[str, Any] = {"programName": name}
        if targets:
            request["targets"] = list(targets)
        if payload_descriptors:
            request["payloadDescriptors"] = [dict(d) for d in payload_descriptors]
        if interval_period:
            request["intervalPeriod"] = dict(interval_period)
        if attributes:
            request["attributes"] = [dict(a) for a in attributes]
        validate("programRequest", request, self.spec_version)
        program = self._store.stored("PROGRAM", "program", request)
        self._store.programs[program["id"]] = program
        await self._notifier.notify("PROGRAM", "CREATE", program)
        return dict(program)

    async def delete_program(self, program_id: str) -> dict[str, Any]:
        programs = self._store.programs
        program = programs.pop(self._store.known(programs, program_id, "program"))
        await self._notifier.notify("PROGRAM", "DELETE", program)
        return dict(program)

    def event_request(
        self,
        program_id: str,
        *,
        start: datetime,
        duration_s: float | None,
        payload_type: str,
        values: Sequence[Any],
        targets: Sequence[str] | None = None,
        name: str | None = None,
        units: str | None = None,
        report_descriptors: Sequence[Mapping[str, Any]] | None = None,
        priority: int | None = None,
    ) -> dict[str, Any]:
        """The eventRequest document :meth:`publish_event` stores: one interval, one payload."""
        self._store.known(self._store.programs, program_id, "program")
        request: dict[str, Any] = {
            "programID": program_id,
            "intervalPeriod": {
                "start": rfc3339(aware(start).timestamp()),
                "duration": iso_duration(duration_s),
            },
            "intervals": [{"id": 0, "payloads": [{"type": payload_type, "values": list(values)}]}],
        }
        if name is not None:
            request["eventName"] = name
        if targets:
            request["targets"] = list(targets)
        if units is not None:
            request["payloadDescriptors"] = [
                {
                    "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                    "payloadType": payload_type,
                    "units": units,
                }
            ]
        if report_descriptors:
            request["reportDescriptors"] = [dict(d) for d in report_descriptors]
        if priority is not None:
            request["priority"] = priority
        return request

    async def publish_event(
        self,
        program_id: str,
        *,
        start: datetime,
        duration_s: float | None,
        payload_type: str,
        values: Sequence[Any],
        targets: Sequence[str] | None = None,
        name: str | None = None,
        units: str | None = None,
        report_descriptors: Sequence[Mapping[str, Any]] | None = None,
        priority: int | None = None,
    ) -> dict[str, Any]:
        """Publish an event (``duration_s`` None: until further notice, ``P9999Y``).

        Subscribers are notified (awaited, bounded) before this returns.
        """
        request = self.event_request(
            program_id,
            start=start,
            duration_s=duration_s,
            payload_type=payload_type,
            values=values,
            targets=targets,
            name=name,
            units=units,
            report_descriptors=report_descriptors,
            priority=priority,
        )
        return await self.publish_event_document(request)

    async def publish_event_document(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Publish an eventRequest document as it is (several intervals, descriptors ...)."""
        validate("eventRequest", request, self.spec_version)
        self._store.known(self._store.programs, request["programID"], "program")
        event = self._store.stored("EVENT", "event", request)
        self._store.events[event["id"]] = event
        await self._notifier.notify("EVENT", "CREATE", event)
        return dict(event)

    async def update_event(self, event_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Replace an event's content (an eventRequest, e.g. from :meth:`event_request`)."""
        events = self._store.events
        self._store.known(events, event_id, "event")
        validate("eventRequest", request, self.spec_version)
        self._store.known(self._store.programs, request["programID"], "program")
        old = events[event_id]
        event = self._store.stored("EVENT", "event", request, keep=old)
        events[event_id] = event
        await self._notifier.notify("EVENT", "UPDATE", event)
        return dict(event)

    async def delete_event(self, event_id: str) -> dict[str, Any]:
        events = self._store.events
        event = events.pop(self._store.known(events, event_id, "event"))
        await self._notifier.notify("EVENT", "DELETE", event)
        return dict(event)

    # -- what happened (for the verdicts) --------------------------------------------------------
    def programs(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self._store.programs.values()]

    def events(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._store.events.values()]

    def vens(self) -> list[dict[str, Any]]:
        return [dict(v) for v in self._store.vens.values()]

    def subscriptions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self._store.subscriptions.values()]

    def drops_since(self, since: float) -> int:
        """How many requests or answers the link impairment lost from ``since`` (epoch s) on."""
        return sum(1 for moment in self.link_drops if moment >= since)

    def report_count(self) -> int:
        """How many reports were answered 2xx so far (the index the next one gets)."""
        return len(self._store.report_log)

    def reports(self, since: int = 0) -> list[ReportRecord]:
        """Every report answered 2xx (created or updated), in order, from index ``since``."""
        return self._store.report_log[since:]

    async def wait_for_report(
        self,
        predicate: Callable[[ReportRecord], bool],
        timeout_s: float,
        *,
        since: int | None = None,
    ) -> ReportRecord:
        """The first report from index ``since`` (None: arriving from now on) that matches."""
        log = self._store.report_log
        cursor = len(log) if since is None else since

        def find() -> ReportRecord | None:
            nonlocal cursor
            while cursor < len(log):
                record = log[cursor]
                cursor += 1
                if predicate(record):
                    return record
            return None

        return await self._wait(find, timeout_s, "no matching report")

    async def wait_for_poll(
        self, client_id: str, after: float, timeout_s: float, *, path: str = "/events"
    ) -> RequestRecord:
        """The first answered ``GET`` under ``path`` by ``client_id`` arriving at or after
        ``after`` (epoch seconds)."""
        cursor = 0

        def find() -> RequestRecord | None:
            nonlocal cursor
            while cursor < len(self.requests):
                record = self.requests[cursor]
                cursor += 1
                if (
                    record.client_id == client_id
                    and record.time >= after
                    and record.method == "GET"
                    and record.path.startswith(path)
                    and record.status is not None
                ):
                    return record
            return None

        return await self._wait(find, timeout_s, f"no poll of {path} by {client_id!r}")

    def last_request_time(self, client_id: str) -> float | None:
        """When the client's last request (with a valid token) arrived, epoch seconds."""
        return self._last_request.get(client_id)

    def requests_by(
        self,
        client_id: str | None,
        *,
        since: float = float("-inf"),
        until: float = float("inf"),
        path_prefix: str = "",
    ) -> list[RequestRecord]:
        """Requests of one client (None: from anyone, token or not) arriving in [since, until]."""
        return [
            r
            for r in self.requests
            if (client_id is None or r.client_id == client_id)
            and since <= r.time <= until
            and r.path.startswith(path_prefix)
        ]

    def fetched_event(
        self,
        client_id: str,
        event_id: str | None = None,
        *,
        since: float = float("-inf"),
        until: float = float("inf"),
    ) -> bool:
        """Whether the client was served that event (None: any event) in [since, until]."""
        return any(
            r.status is not None
            and 200 <= r.status < 300
            and (r.event_ids if event_id is None else event_id in r.event_ids)
            for r in self.requests_by(client_id, since=since, until=until, path_prefix="/events")
        )

    async def _wait(self, find: Callable[[], T | None], timeout_s: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    found = find()
                    if found is not None:
                        return found
                    await self._arrivals.changed.wait()
        except TimeoutError:
            raise ServicerTimeout(f"{what} within {timeout_s:g} s") from None

    # -- HTTP middlewares: who asked, outages, redirects, problems -------------------------------
    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Outermost: who asked and how it ended; the outages that give no answer at all."""
        arrived = now_epoch()
        client_id = self._tokens.client_of(request)
        expired_token = not client_id and self._tokens.expired(request)
        if client_id:
            self._last_request[client_id] = arrived
        peer = peer_of(request)
        status: int | None = None
        try:
            if self._outage == "silent":
                self.evidence.add(
                    "note", CHANNEL, peer, f"outage silent: holding {request.method} {request.path}"
                )
                if not await self._hold():
                    self._reset(request, peer, "dropped after the hold")
                    return web.Response(status=204)
                if request.transport is None or request.transport.is_closing():
                    return web.Response(status=204)  # the client gave up while held: no answer
            if self._outage == "reset":
                self._reset(request, peer, "outage reset")
                return web.Response(status=204)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                status = exc.status
                raise
            status = response.status
            return response
        finally:
            self.requests.append(
                RequestRecord(
                    arrived,
                    client_id,
                    peer,
                    request.method,
                    request.path,
                    status,
                    tuple(request.get(EVENT_IDS, ())),
                    expired_token,
                )
            )
            self._arrivals.bump()

    async def _hold(self) -> bool:
        """Wait while the outage is silent: True when service resumed, False when dropped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hold_limit_s
        while self._outage == "silent" and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            changed = self._outage_changed.changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return False
        return not self._closing

    def _reset(self, request: web.Request, peer: str, why: str) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), no HTTP answer."""
        self.evidence.add(
            "note", CHANNEL, peer, f"{why}: connection reset, {request.method} {request.path}"
        )
        abort_connection(request)

    @web.middleware
    async def _service(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Innermost: 503 outage, redirects, and every error as a problem document."""
        try:
            if self._outage == "503":
                raise Problem(
                    503,
                    "the DR servicer is unavailable (outage simulated by the harness)",
                    headers={"Retry-After": str(self.retry_after_s)},
                )
            if self.redirect_to is not None:
                location = self.redirect_to.rstrip("/") + request.path_qs
                return web.Response(
                    status=self.redirect_status, headers={"Location": location}, text=""
                )
            return await handler(request)
        except Problem as problem:
            return self._problem(request, problem)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self._problem(request, Problem(exc.status, exc.reason))
        except Exception as exc:
            # A fault of ours: answered 500 as a problem, kept for check(), never swallowed.
            if exc not in self.errors:
                self.errors.append(exc)
            return self._problem(request, Problem(500, "internal error of the servicer"))

    def _problem(self, request: web.Request, problem: Problem) -> web.Response:
        document = problem_document(request, problem)
        self._store.check_ours("problem", document)
        headers = dict(problem.headers)
        if problem.status == 401 and "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = BEARER_CHALLENGE
        return web.json_response(document, status=problem.status, headers=headers)
