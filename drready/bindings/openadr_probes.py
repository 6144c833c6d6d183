"""The security probes (*-3.2) of the OpenADR 3 binding: the device is a client that polls the
harness, so the harness offers it a bad servicer where it expects its own and watches what it does.

- Transport probes restart the servicer at the same address with a bad configuration: plain HTTP,
  TLS 1.1 at most, a certificate from a CA the device was never given, a certificate of the run's
  CA for another host name. The device refused when *no HTTP request at all* reached that server
  within a few poll intervals (a device that sends its bearer token, or fetches events, over such
  a connection has already failed).
- The redirect probe answers every request with 307 to a second servicer on another port; the
  device refused when nothing reached the second one.
- The replay and tamper probes publish a fresh DR event the device executes, then serve it again
  as it was (same id and modificationDateTime) after it ended, or altered under the same
  modificationDateTime while it runs; the device refused when it sent no request status for it
  again and its state shows nothing of it.

Each probe then restores the normal servicer and waits for the device to poll again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from drready.bindings.openadr_link import OpenAdrLink
from drready.bindings.types import DrAck, ProbeResult
from drready.openadr import vocab
from drready.openadr.server import Servicer, ServicerTimeout, now_epoch

__all__ = ["CONTENT", "TRANSPORT", "OpenAdrProbes", "ProbeHost"]

TRANSPORT = ("plain-http", "tls-1.1", "untrusted-ca", "wrong-host")
CONTENT = ("redirect", "replayed-event", "tampered-event", "missing-credentials")


class ProbeHost(Protocol):
    """What the probes need of the OpenADR 3 binding they belong to."""

    @property
    def servicer(self) -> Servicer: ...

    @property
    def link(self) -> OpenAdrLink: ...

    async def publish(
        self,
        payload_type: str,
        values: Sequence[Any],
        duration_s: float | None,
        *,
        units: str | None = None,
    ) -> tuple[dict[str, Any], DrAck]:
        """Publish a DR event (replacing the previous one) and await its request status."""
        ...

    async def telemetry(self, timeout_s: float | None = None) -> dict[str, list[Any]]:
        """The payloads of the first telemetry report sampled after the call."""
        ...

    async def return_to_own_mode(self) -> None:
        """After a probe's event is gone: put the device back in its own mode, if it has one."""
        ...


class OpenAdrProbes:
    def __init__(self, binding: ProbeHost) -> None:
        self.binding = binding
        self.servicer = binding.servicer
        self.link = binding.link
        #: The servicer's own TLS context, to come back to after a probe.
        self.normal_context: ssl.SSLContext | None = binding.servicer.ssl_context

    @property
    def window_s(self) -> float:
        """How long a probe lets the device try: three polls and a second."""
        return 3 * self.link.poll_interval_s + 1.0

    def kinds(self) -> tuple[str, ...]:
        tls = self.link.tls
        if tls is None or self.normal_context is None:
            return CONTENT  # a plain-HTTP servicer (profile tls = false): nothing to downgrade
        kinds = ["plain-http"]
        if tls.old_tls_context()[0] is not None:
            kinds.append("tls-1.1")
        return (*kinds, "untrusted-ca", "wrong-host", *CONTENT)

    async def run(self, kind: str) -> ProbeResult:
        tls = self.link.tls
        if kind not in self.kinds() or (kind in TRANSPORT and tls is None):
            old = "" if tls is None else tls.old_tls_context()[1]
            why = f" ({old})" if kind == "tls-1.1" and old else ""
            return ProbeResult(kind, False, f"the OpenADR 3 binding cannot offer {kind}{why}")
        if kind == "redirect":
            return await self._redirect()
        if kind == "replayed-event":
            return await self._replayed()
        if kind == "tampered-event":
            return await self._tampered()
        if kind == "missing-credentials":
            return await self._credentials()
        assert tls is not None
        if kind == "plain-http":
            return await self._transport(kind, None, "plain HTTP")
        if kind == "tls-1.1":
            context, what = tls.old_tls_context()
            return await self._transport(kind, context, what)
        if kind == "untrusted-ca":
            return await self._transport(
                kind, tls.untrusted_ca_context(), "a certificate from a CA the device was not given"
            )
        return await self._transport(
            kind, tls.wrong_host_context(), "a certificate of the run's CA for another host name"
        )

    # -- credentials -------------------------------------------------------------------------------
    async def _credentials(self) -> ProbeResult:
        """Every request the device made in the run so far, and in three more polls, carried a
        token this servicer issued (the token endpoint itself excepted)."""
        await asyncio.sleep(self.window_s)
        requests = self.servicer.requests
        # A token issued here that expired is not a missing credential: on a lossy link a copy
        # of a request (or one held while the refresh's answer was lost) can outlive it.
        bare = [
            r
            for r in requests
            if not r.client_id and not r.expired_token and not r.path.startswith("/auth/")
        ]
        if bare:
            first = bare[0]
            return ProbeResult(
                "missing-credentials",
                False,
                f"{len(bare)} of {len(requests)} requests came without a valid token, the first "
                f"{first.method} {first.path} (answered {first.status})",
            )
        return ProbeResult(
            "missing-credentials", True, f"all {len(requests)} requests carried a valid token"
        )

    # -- transport ---------------------------------------------------------------------------------
    async def _transport(self, kind: str, context: ssl.SSLContext | None, what: str) -> ProbeResult:
        await self.servicer.restart(context)
        # Counted from here: what the normal servicer answered while it shut down is not seen.
        first = len(self.servicer.requests)
        try:
            await asyncio.sleep(self.window_s)
        finally:
            seen = self.servicer.requests[first:]
            fetched = any(r.event_ids for r in seen)
            back = await self._restore()
        if not seen:
            detail = (
                f"for {self.window_s:g} s the servicer offered {what}; no HTTP request reached "
                "it (the device's connections ended before HTTP)"
            )
        else:
            detail = (
                f"{len(seen)} HTTP requests ({', '.join(_paths(seen))}) reached the servicer "
                f"while it offered {what}; events were {'served' if fetched else 'not served'}"
            )
        return ProbeResult(kind, not seen, detail + back)

    async def _restore(self) -> str:
        """The normal servicer again; a clause for the detail if the device does not return."""
        self.servicer.redirect_to = None
        if self.servicer.ssl_context is not self.normal_context:
            await self.servicer.restart(self.normal_context)
        timeout = 3 * self.link.poll_interval_s + 30.0
        try:
            await self.servicer.wait_for_poll(self.link.client_id, now_epoch(), timeout)
        except ServicerTimeout:
            return f"; the device did not poll again within {timeout:g} s of the restore"
        return ""

    async def _redirect(self) -> ProbeResult:
        host = self.servicer.address[0]
        other = Servicer(
            self.link.evidence,
            clients={},
            ssl_context=self.normal_context,
            host=host,
            port=0,
            spec_version=self.servicer.spec_version,
        )
        await other.start()
        began = now_epoch()
        self.servicer.redirect_to = other.base_url
        try:
            await asyncio.sleep(self.window_s)
        finally:
            self.servicer.redirect_to = None
            followed = list(other.requests)
            await other.close()
        answered = self.servicer.requests_by(None, since=began)
        back = await self._restore()
        if not followed:
            detail = (
                f"{len(answered)} requests were answered 307 to {other.base_url} for "
                f"{self.window_s:g} s; none followed it"
            )
        else:
            detail = (
                f"{len(followed)} requests ({', '.join(_paths(followed))}) followed the redirect "
                f"to {other.base_url}"
            )
        return ProbeResult("redirect", not followed, detail + back)

    # -- content -----------------------------------------------------------------------------------
    async def _probe_event(self) -> tuple[dict[str, Any], str] | ProbeResult:
        """Publish a fresh DR event the device executes: (the event, its payload type)."""
        payload_type, values = await self._probe_instruction()
        event, ack = await self.binding.publish(
            payload_type, values, None, units=_units(payload_type)
        )
        if not ack.accepted:
            return ProbeResult(
                "", False, f"the device did not take the probe's own event ({ack.detail})"
            )
        return event, payload_type

    async def _probe_instruction(self) -> tuple[str, list[Any]]:
        payloads = await self.binding.telemetry()
        if vocab.MAX_CHARGE in payloads:
            max_charge_kw = float(payloads[vocab.MAX_CHARGE][0])
            return vocab.SETPOINT, [round(0.2 * max_charge_kw, 3)]
        planned = payloads.get(vocab.PLANNED_START, [vocab.NO_PLAN])[0]
        start = self.link.probe_start if planned == vocab.NO_PLAN else str(planned)
        return vocab.START_TIME, [start]

    async def _end(self, event_id: str) -> None:
        if event_id in {e["id"] for e in self.servicer.events()}:
            await self.servicer.delete_event(event_id)
        await self.binding.return_to_own_mode()

    def _statuses(self, event_id: str, since: int) -> int:
        return sum(
            1
            for r in self.servicer.reports(since)
            if r.client_id == self.link.client_id
            and r.report.get("eventID") == event_id
            and vocab.REQUEST_STATUS in r.payloads()
        )

    async def _watch(
        self,
        kind: str,
        event: dict[str, Any],
        shows: Callable[[dict[str, list[Any]]], bool],
        serve: Callable[[], Awaitable[None]],
        what: str,
    ) -> ProbeResult:
        began, since = now_epoch(), self.servicer.report_count()
        await serve()
        await asyncio.sleep(self.window_s)
        fetched = self.servicer.fetched_event(self.link.client_id, event["id"], since=began)
        statuses = self._statuses(event["id"], since)
        state = await self.binding.telemetry()
        effect = shows(state)
        executed = bool(statuses) or effect
        if executed:
            detail = f"the device acted on {what}: " + ", ".join(
                ([f"{statuses} request-status reports"] if statuses else [])
                + (["its state shows the event"] if effect else [])
            )
        elif fetched:
            detail = f"the device fetched {what} and did not act on it"
        else:
            detail = f"the device did not fetch {what} in {self.window_s:g} s, nor act on it"
        return ProbeResult(kind, not executed, detail)

    async def _replayed(self) -> ProbeResult:
        published = await self._probe_event()
        if isinstance(published, ProbeResult):
            return ProbeResult("replayed-event", False, published.detail)
        event, payload_type = published
        await self._end(event["id"])
        # The device sees the event gone (one poll) before it comes back.
        with contextlib.suppress(ServicerTimeout):
            await self.servicer.wait_for_poll(
                self.link.client_id, now_epoch() + 0.001, 2 * self.link.poll_interval_s + 5.0
            )

        async def serve() -> None:
            self.servicer.serve_event_as_is(event)

        try:
            return await self._watch(
                "replayed-event",
                event,
                # A replayed start time plans what is planned already: only its status shows.
                lambda state: payload_type == vocab.SETPOINT and _shows(state, payload_type, event),
                serve,
                f"event {event['id']} replayed after it ended (same id and modification time)",
            )
        finally:
            await self._end(event["id"])

    async def _tampered(self) -> ProbeResult:
        published = await self._probe_event()
        if isinstance(published, ProbeResult):
            return ProbeResult("tampered-event", False, published.detail)
        event, payload_type = published
        tampered = _tamper(event, payload_type)

        async def serve() -> None:
            self.servicer.serve_event_as_is(tampered)

        try:
            result = await self._watch(
                "tampered-event",
                event,
                lambda state: _shows(state, payload_type, tampered),
                serve,
                f"event {event['id']} altered without a new modification time",
            )
        finally:
            await self._end(event["id"])
        if not result.refused and payload_type == vocab.START_TIME:
            # Put the plan back where the genuine event had it.
            await self.binding.publish(payload_type, _values(event), None)
        return result


def _values(event: dict[str, Any]) -> list[Any]:
    return list(event["intervals"][0]["payloads"][0]["values"])


def _tamper(event: dict[str, Any], payload_type: str) -> dict[str, Any]:
    copy: dict[str, Any] = {**event, "intervals": [dict(i) for i in event["intervals"]]}
    value = _values(event)[0]
    if payload_type == vocab.SETPOINT:
        changed: Any = round(float(value) / 2, 3)
    else:
        hours, _, minutes = str(value).partition(":")
        changed = f"{(int(hours) + 1) % 24:02d}:{minutes}"
    copy["intervals"][0]["payloads"] = [{"type": payload_type, "values": [changed]}]
    return copy


def _shows(state: dict[str, list[Any]], payload_type: str, event: dict[str, Any]) -> bool:
    """Whether the device's telemetry shows the event in force."""
    value = _values(event)[0]
    if payload_type == vocab.SETPOINT:
        mode = (state.get(vocab.MODE) or [""])[0]
        target = (state.get(vocab.TARGET) or [0.0])[0]
        return mode in ("charging", "discharging") and abs(float(target) - float(value)) < 0.002
    return bool((state.get(vocab.PLANNED_START) or [""])[0] == value)


def _units(payload_type: str) -> str | None:
    return "KW" if payload_type == vocab.SETPOINT else None


def _paths(records: list[Any]) -> list[str]:
    seen: dict[str, int] = {}
    for record in records:
        key = f"{record.method} {record.path}"
        seen[key] = seen.get(key, 0) + 1
    return [f"{count}x {key}" for key, count in list(seen.items())[:4]]
