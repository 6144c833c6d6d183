"""The reference VEN: an OpenADR 3 client in front of a reference device, as a maker's firmware,
its cloud or a home gateway would be. It is what the harness's OpenADR 3 binding tests in a
simulated run, so it must do what DRready asks of the real thing (and no more):

- registers with its identity and firmware version as VEN attributes, then polls the events of
  the DRready program every ``poll_interval_s`` and reports the device's state every
  ``report_interval_s`` on the standing telemetry event (:mod:`drready.openadr.vocab`);
- executes each DR event once, answers it with a request-status report (accepted, or refused with
  the device's reason), ends a setpoint DR itself when the event's interval ends or the event is
  deleted, returning the device to the own mode it had before;
- when its polls fail (no answer, 503, reset) for longer than the comms-loss timeout, returns the
  device to its own mode;
- is secure by default: TLS 1.2 or later with the servicer's certificate checked against the CA it
  was given and the host name, no redirects followed, no fallback to plain HTTP, the bearer token
  on every request, an event executed at most once per (id, modificationDateTime) for as long as
  it runs, and an event whose content changed without a new modificationDateTime not executed.

Every insecurity and misbehaviour is one switch of :class:`VenBehaviour`, for the named faults
(:mod:`drready.simulators.openadr_faults`). One task does everything in order (poll, act, report),
so a report never overtakes the request-status report of what it follows; every wait is a timer.

One idea at ~500 lines: the VEN's OpenADR 3 loop; what it does with its device is
:mod:`drready.simulators.ven_device`, its pairing with the device
:mod:`drready.simulators.ven_runtime`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from drready.simulators.echonet_peer import Answer
from drready.simulators.ven_device import BatteryAdapter, DeviceAdapter, instructions

from drready import __version__
from drready.echonet.errors import EchonetError
from drready.openadr import vocab
from drready.openadr.server import duration_seconds, now_epoch
from drready.openadr.tls import insecure_client_context
from drready.openadr.ven import VenClient, VenError, build_report

T = TypeVar("T")

#: What the VEN calls itself in its firmware-version attribute.
SOFTWARE = f"drready reference VEN {__version__}"
#: Executed (id, modificationDateTime) pairs remembered: far more than a run publishes, and a bound.
MEMORY = 4096
#: The waits before each resend of a report that got no answer (bounded: then it is dropped).
REPORT_BACKOFF_S = (1.0, 2.0, 4.0)
#: The least a VEN keeps an idle connection to the servicer open (aiohttp's client default).
KEEPALIVE_S = 75.0


@dataclass
class VenBehaviour:
    """Switches that faults turn; every default is the conforming, secure behaviour."""

    verify_certificate: bool = True
    check_hostname: bool = True
    accept_old_tls: bool = False
    fallback_to_plain_http: bool = False
    follow_redirects: bool = False
    #: Remember executed events for the whole run, not only while the servicer lists them.
    remember_executed_events: bool = True
    #: Refuse an event whose content changed under the same modificationDateTime.
    detect_tampering: bool = True
    end_dr_at_event_end: bool = True
    end_dr_on_event_deletion: bool = True
    restore_on_comms_loss: bool = True
    #: Every this many telemetry reports, the first included, also send a malformed one
    #: (0: never).
    invalid_document_every: int = 0
    #: Every this many polls, the first included, poll without the bearer token (0: never).
    anonymous_poll_every: int = 0


@dataclass
class VenConfig:
    base_url: str
    client_id: str
    client_secret: str
    ven_name: str
    #: The CA the VEN trusts for the servicer (PEM); None for a plain-HTTP servicer.
    ca_pem: bytes | None
    poll_interval_s: float = 10.0
    report_interval_s: float = 10.0
    comms_loss_timeout_s: float = 1800.0
    request_timeout_s: float = 5.0


@dataclass
class _ActiveDr:
    event_id: str
    ends_at: float | None  # epoch seconds; None: until further notice


@dataclass
class _Pending:
    event: dict[str, Any]
    key: tuple[str, str]
    digest: str
    starts_at: float
    ends_at: float | None


@dataclass
class VenState:
    """What the VEN knows, kept across a restart (a device keeps it in non-volatile memory)."""

    executed: OrderedDict[tuple[str, str], str] = field(default_factory=OrderedDict)
    tampered: set[tuple[str, str]] = field(default_factory=set)


def event_window(event: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(start, end) of an event in epoch seconds: start None for "now", end None for never."""
    period = event.get("intervalPeriod") or {}
    start_text = str(period.get("start") or "")
    start: float | None = None
    if start_text and not start_text.startswith("0001-01-01"):
        try:
            start = datetime.fromisoformat(start_text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            start = None
    duration = event.get("duration") or period.get("duration")
    seconds = duration_seconds(str(duration)) if duration else None
    end = None if seconds is None else (start if start is not None else now_epoch()) + seconds
    return start, end


def digest(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()


class ReferenceVen:
    """The VEN in front of one device (reached through ``adapter``). Start with :meth:`start` on
    the run's loop."""

    def __init__(
        self,
        config: VenConfig,
        adapter: DeviceAdapter,
        behaviour: VenBehaviour | None = None,
    ) -> None:
        self.config = config
        self.behaviour = behaviour or VenBehaviour()
        self.adapter = adapter
        self.state = VenState()
        self.log: list[str] = []
        self.errors: list[BaseException] = []
        self.program_id: str | None = None
        self.telemetry_event_id: str | None = None
        self.ven_id: str | None = None
        self.last_ok = now_epoch()
        self.last_error = ""
        self.reports_sent = 0
        self._polls = 0
        self._active: _ActiveDr | None = None
        self._pending: dict[str, _Pending] = {}
        self._report_now = False
        self._task: asyncio.Task[None] | None = None
        self._client: VenClient | None = None
        self._plain: VenClient | None = None

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> ReferenceVen:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return self

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_clients()

    def restart(self) -> None:
        """Power cycle (inside the loop): the DR in force is lost with the device's, the loop
        starts again from registration; what was executed is remembered."""
        old = self._task
        if old is not None:
            old.cancel()
        self._task = None
        self._active = None
        self._pending.clear()
        if isinstance(self.adapter, BatteryAdapter):
            self.adapter.pre_mode = None

        async def again() -> None:
            if old is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await old
            await self._drop_clients()
            await self._run()

        self._task = asyncio.ensure_future(again())

    def check(self) -> None:
        """Raise the first fault of the VEN itself (a bug, never a device's refusal)."""
        if self.errors:
            raise self.errors[0]

    def _note(self, text: str) -> None:
        self.log.append(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S} {text}")
        del self.log[:-1000]

    # -- HTTP ------------------------------------------------------------------------------------
    def _new_client(self, base_url: str) -> VenClient:
        config = self.config
        ca = config.ca_pem
        behaviour = self.behaviour
        context = (
            insecure_client_context(
                ca,
                verify_certificate=behaviour.verify_certificate,
                check_hostname=behaviour.check_hostname,
                accept_old_tls=behaviour.accept_old_tls,
            )
            if ca is not None
            else False
        )
        return VenClient(
            base_url,
            self.config.client_id,
            self.config.client_secret,
            ssl=context,
            timeout_s=self.config.request_timeout_s,
            follow_redirects=behaviour.follow_redirects,
            # Idle between two of its own requests, never longer than the longer interval:
            # the connection stays up across it (the servicer keeps idle connections ~1 h).
            keepalive_s=max(KEEPALIVE_S, 2 * max(config.poll_interval_s, config.report_interval_s)),
        )

    async def _drop_clients(self) -> None:
        for client in (self._client, self._plain):
            if client is not None:
                await client.close()
        self._client = self._plain = None

    async def _call(self, operation: Callable[[VenClient], Awaitable[T]]) -> T:
        if self._client is None:
            self._client = self._new_client(self.config.base_url)
        try:
            return await operation(self._client)
        except VenError as exc:
            https = self.config.base_url.startswith("https://")
            if exc.status is not None or not (https and self.behaviour.fallback_to_plain_http):
                raise
        # The insecure fallback: the same request in the clear (credentials and all).
        if self._plain is None:
            self._plain = self._new_client("http://" + self.config.base_url[len("https://") :])
        return await operation(self._plain)

    async def _post_report(self, report: Mapping[str, Any]) -> None:
        """POST a report, sent again (after :data:`REPORT_BACKOFF_S`) while no answer came at all:
        a connection lost on the way loses the report or only its answer, and the VEN cannot tell
        which, so it resends, as a conforming client does. An answer, even an error, ends it."""
        for backoff_s in (*REPORT_BACKOFF_S, None):
            try:
                await self._call(lambda c: c.post_report(report))
                return
            except VenError as exc:
                if exc.status is not None or backoff_s is None:
                    raise
                self._note(f"report not answered ({exc}), sent again in {backoff_s:g} s")
            await asyncio.sleep(backoff_s)

    # -- the loop --------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._register()
            next_poll = now_epoch()
            next_report = now_epoch()
            while True:
                now = now_epoch()
                if now >= next_poll:
                    await self._poll()
                    next_poll = _next_tick(next_poll, self.config.poll_interval_s)
                await self._due()
                now = now_epoch()
                if now >= next_report or self._report_now:
                    self._report_now = False
                    await self._telemetry()
                    if now >= next_report:
                        next_report = _next_tick(next_report, self.config.report_interval_s)
                wake = min([next_poll, next_report, *self._deadlines()])
                await asyncio.sleep(max(0.0, wake - now_epoch()))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug of the VEN: kept for check(), never swallowed
            self.errors.append(exc)
            self._note(f"VEN stopped on {type(exc).__name__}: {exc}")

    async def _register(self) -> None:
        """Token, ven object (identity attributes), program: retried each poll interval."""
        attributes = await self._attributes()
        while True:
            try:
                ven = await self._call(lambda c: c.register(self.config.ven_name))
                if ven.get("attributes") != attributes:
                    body = {
                        "objectType": "VEN_VEN_REQUEST",
                        "venName": self.config.ven_name,
                        "attributes": attributes,
                    }
                    ven = await self._call(functools.partial(_put, f"/vens/{ven['id']}", body))
                self.ven_id = str(ven["id"])
                programs = await self._call(lambda c: c.programs())
                found = [p for p in programs if p.get("programName") == vocab.PROGRAM_NAME]
                if found:
                    self.program_id = str(found[0]["id"])
                    self.last_ok = now_epoch()
                    self._note(f"registered as {self.ven_id}, program {self.program_id}")
                    return
                self.last_error = f"no program {vocab.PROGRAM_NAME!r} yet"
            except VenError as exc:
                self.last_error = str(exc)
            self._note(f"registration failed: {self.last_error}")
            await asyncio.sleep(self.config.poll_interval_s)

    async def _attributes(self) -> list[dict[str, Any]]:
        peer = self.adapter.peer
        identity = await peer.identity()
        attributes = [
            {"type": kind, "values": [identity[name]]}
            for kind, name in vocab.IDENTITY_ATTRIBUTES.items()
            if identity.get(name)
        ]
        node = await peer.node_version()
        firmware = SOFTWARE + (f" (ECHONET Lite {node})" if node else "")
        attributes.append({"type": vocab.FIRMWARE_VERSION, "values": [firmware]})
        release = await peer.appendix_release()
        if release:
            attributes.append({"type": vocab.APPENDIX_RELEASE, "values": [release]})
        return attributes

    async def _poll(self) -> None:
        program_id = self.program_id
        self._polls += 1
        every = self.behaviour.anonymous_poll_every
        if every and self._polls % every == 1 % every:
            # The faulty code path: the same poll without the token (the VTN answers 401).
            with contextlib.suppress(VenError):
                await self._call(lambda c: c.request("GET", "/events", authorize=False))
        try:
            events = await self._call(lambda c: c.events(program_id))
        except VenError as exc:
            self.last_error = str(exc)
            self._note(f"poll failed: {exc}")
            return
        self.last_ok = now_epoch()
        await self._handle(events)

    async def _handle(self, events: list[dict[str, Any]]) -> None:
        listed: set[str] = set()
        for event in events:
            event_id = str(event.get("id"))
            listed.add(event_id)
            if instructions(event, frozenset({vocab.TELEMETRY})):
                self.telemetry_event_id = event_id
                continue
            key = (event_id, str(event.get("modificationDateTime", "")))
            content = digest(event)
            known = self.state.executed.get(key)
            if known is not None:
                if known == content:
                    continue  # executed already: a poll, or a replay of the same event
                if self.behaviour.detect_tampering:
                    if key not in self.state.tampered:
                        self.state.tampered.add(key)
                        self._note(f"event {event_id} changed without a new modification time")
                    continue
            if not instructions(event, self.adapter.payload_types):
                self._remember(key, content)
                continue
            starts_at, ends_at = event_window(event)
            now = now_epoch()
            if ends_at is not None and ends_at <= now:
                self._remember(key, content)  # over before it reached us
                continue
            if starts_at is not None and starts_at > now:
                self._pending[event_id] = _Pending(event, key, content, starts_at, ends_at)
                continue
            await self._execute(event, key, content, ends_at)
        for event_id in list(self._pending):
            if event_id not in listed:
                del self._pending[event_id]
        active = self._active
        deleted = active is not None and active.event_id not in listed
        if active is not None and deleted and self.behaviour.end_dr_on_event_deletion:
            await self._end_dr(f"event {active.event_id} deleted")
        if not self.behaviour.remember_executed_events:
            for key in [k for k in self.state.executed if k[0] not in listed]:
                del self.state.executed[key]

    def _remember(self, key: tuple[str, str], content: str) -> None:
        self.state.executed[key] = content
        self.state.executed.move_to_end(key)
        while len(self.state.executed) > MEMORY:
            self.state.executed.popitem(last=False)

    async def _execute(
        self, event: Mapping[str, Any], key: tuple[str, str], content: str, ends_at: float | None
    ) -> None:
        self._remember(key, content)
        event_id = key[0]
        answer: Answer | None = None
        started = False
        for instruction in instructions(event, self.adapter.payload_types):
            try:
                ack, dr = await self.adapter.execute(instruction)
            except EchonetError as exc:
                ack, dr = Answer(False, f"the device did not take it: {exc}"), False
            started = started or dr
            if answer is None or answer.accepted:
                answer = ack
        assert answer is not None
        if started:
            self._active = _ActiveDr(event_id, ends_at)
        self._note(f"event {event_id}: {'accepted' if answer.accepted else 'refused'}")
        status = [vocab.ACCEPTED] if answer.accepted else [vocab.REFUSED, answer.detail]
        report = build_report(
            event_id,
            self.config.ven_name,
            vocab.RESOURCE_NAME,
            {vocab.REQUEST_STATUS: status},
            start=datetime.now(UTC),
            report_name="request status",
        )
        try:
            await self._post_report(report)
        except VenError as exc:
            self._note(f"request status of {event_id} not delivered: {exc}")
        self._report_now = True

    def _deadlines(self) -> list[float]:
        found = [p.starts_at for p in self._pending.values()]
        active = self._active
        if active is not None:
            if active.ends_at is not None and self.behaviour.end_dr_at_event_end:
                found.append(active.ends_at)
            if self.behaviour.restore_on_comms_loss:
                found.append(self.last_ok + self.config.comms_loss_timeout_s)
        return found

    async def _due(self) -> None:
        now = now_epoch()
        for pending in sorted(self._pending.values(), key=lambda p: p.starts_at):
            if pending.starts_at <= now:
                del self._pending[pending.key[0]]
                await self._execute(pending.event, pending.key, pending.digest, pending.ends_at)
        active = self._active
        if active is None:
            return
        ends_at = active.ends_at
        if self.behaviour.end_dr_at_event_end and ends_at is not None and now >= ends_at:
            await self._end_dr(f"event {active.event_id} ended")
            return
        silent_s = now - self.last_ok
        if self.behaviour.restore_on_comms_loss and silent_s >= self.config.comms_loss_timeout_s:
            await self._end_dr(f"no contact with the servicer for {silent_s:.0f} s")

    async def _end_dr(self, why: str) -> None:
        self._active = None
        try:
            await self.adapter.end_dr(why)
        except EchonetError as exc:
            self._note(f"could not end the DR ({why}): {exc}")
            return
        self._note(f"DR ended: {why}")
        self._report_now = True

    async def _telemetry(self) -> None:
        event_id = self.telemetry_event_id
        if event_id is None:
            return
        sampled = datetime.now(UTC)
        try:
            payloads = await self.adapter.telemetry()
        except EchonetError as exc:
            self._note(f"device unreadable: {exc}")
            return
        units = {kind: vocab.UNITS[kind] for kind in payloads if kind in vocab.UNITS}
        report = build_report(
            event_id,
            self.config.ven_name,
            vocab.RESOURCE_NAME,
            payloads,
            start=sampled,
            duration_s=0,
            report_name="telemetry",
            units=units,
        )
        try:
            await self._post_report(report)
        except VenError as exc:
            self._note(f"telemetry not delivered: {exc}")
            return
        self.reports_sent += 1
        every = self.behaviour.invalid_document_every
        if every and (self.reports_sent - 1) % every == 0:  # from the first report on
            await self._send_malformed(report)

    async def _send_malformed(self, report: Mapping[str, Any]) -> None:
        """A report whose numbers travel as strings with units: the servicer must flag it."""
        broken = json.loads(json.dumps(report))
        for interval in broken["resources"][0]["intervals"]:
            for payload in interval["payloads"]:
                unit = vocab.UNITS.get(payload["type"])
                if payload["type"] in (vocab.CHARGE_LEVEL, vocab.DEMAND) and unit:
                    payload["values"] = [f"{v} {unit}" for v in payload["values"]]
        broken["resources"][0]["resourceName"] = ""
        with contextlib.suppress(VenError):
            await self._call(lambda c: c.post_report(broken))


async def _put(path: str, body: Mapping[str, Any], client: VenClient) -> dict[str, Any]:
    return dict(await client.request("PUT", path, json_body=body))


def _next_tick(tick: float, interval_s: float) -> float:
    """The next tick of a fixed cadence after now (a slow round skips, never bunches)."""
    now = now_epoch()
    tick += interval_s
    if tick <= now:
        tick += ((now - tick) // interval_s + 1) * interval_s
    return tick
