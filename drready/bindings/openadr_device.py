"""The DUT facade over the server topology, OpenADR 3 shape: the harness is the DR servicer (VTN)
and the device, or its maker's server or home gateway, is a VEN that polls it.

Everything goes through :class:`drready.openadr.server.Servicer` and the vocabulary of
:mod:`drready.openadr.vocab`:

- a DR request is an event of the DRready program (it replaces the previous DR event, which is
  deleted); the answer is the VEN's request-status report on that event, awaited for a poll
  interval and a margin;
- the device's own mode is asked for by deleting the DR events, then reading the mode back;
- every reading waits for a telemetry report sampled after the call, so a value is never older
  than the question (bounded: a report interval, a poll interval and a margin);
- identity and versions are the VEN object's attributes;
- a comms cut is the servicer's outage (:attr:`OpenAdrDeviceBinding.comms_loss_mode`).

The security probes (*-3.2) are in :mod:`drready.bindings.openadr_probes`. The module runs past
~500 lines because the battery and water-heater facades share every wait and event of the base
binding; split, each half would reach back into the other's privates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from drready.bindings.openadr_link import OpenAdrLink
from drready.bindings.openadr_probes import OpenAdrProbes
from drready.bindings.types import (
    ENERGY_WITNESS,
    HEATER_WITNESSES,
    POWER_WITNESS,
    STATUS_WITNESS,
    Capabilities,
    CommunicationReport,
    DrAck,
    HeaterStatus,
    Identity,
    ProbeResult,
    SchemaFinding,
    Status,
    StructuredDataReport,
)
from drready.errors import ExchangeError
from drready.model import Binding, Topology
from drready.openadr import vocab
from drready.openadr.server import (
    Outage,
    ReportRecord,
    ServicerTimeout,
    now_epoch,
)
from drready.openadr.validation import OpenAdrError
from drready.timeofday import tod_seconds, tod_text

__all__ = [
    "MARGIN_S",
    "LinkLossTimeout",
    "OpenAdrBatteryBinding",
    "OpenAdrBindingError",
    "OpenAdrDeviceBinding",
    "OpenAdrLink",
    "OpenAdrWaterHeaterBinding",
    "TelemetryTimeout",
]

#: Slack on top of the VEN's own intervals before a wait gives up (seconds).
MARGIN_S = 30.0


#: A wait for a report under link loss goes on for at most this many times its own length.
MAX_STRETCH = 3


class OpenAdrBindingError(OpenAdrError):
    """The VEN did not answer as the harness needs (no report in time, an own mode it cannot
    be asked for)."""


class LinkLossTimeout(OpenAdrBindingError, ExchangeError):
    """No report in time while the link lost exchanges with the VEN: an exchange failure
    (inconclusive, cause *-1.1), not a VEN that does not report."""


def _sampled_at(record: ReportRecord) -> float | None:
    for resource in record.report.get("resources") or []:
        for interval in resource.get("intervals") or []:
            start = (interval.get("intervalPeriod") or {}).get("start")
            if start:
                return datetime.fromisoformat(str(start).replace("Z", "+00:00")).timestamp()
    return None


class OpenAdrDeviceBinding:
    """What both device classes share over OpenADR 3; the class bindings add their operations."""

    protocol = Binding.OPENADR3.protocol
    topology = Topology.SERVER
    capabilities = Capabilities(server_path=True)

    def __init__(self, link: OpenAdrLink, on_close: Callable[[], None] | None = None) -> None:
        self.link = link
        self.servicer = link.servicer
        #: How a comms cut shows to the VEN: "silent" (no answer), "503" or "reset".
        self.comms_loss_mode: Outage = "silent"
        self._dr_events: list[str] = []
        #: Reports before this index may predate the last DR's effect.
        self._fresh_index = 0
        #: What closing the binding releases besides itself (a session's servicer), once.
        self._on_close = on_close
        self.probes = OpenAdrProbes(self)

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None  # no ECHONET Lite socket: nothing for the bundle's pcapng trace

    @property
    def server_path(self) -> OpenAdrDeviceBinding:
        return self

    async def return_to_own_mode(self) -> None:
        """After a probe's own DR event: a water heater keeps its plan, nothing to undo."""

    # -- waits -----------------------------------------------------------------------------------
    @property
    def ack_timeout_s(self) -> float:
        return self.link.poll_interval_s + max(MARGIN_S, self.link.poll_interval_s)

    @property
    def telemetry_timeout_s(self) -> float:
        return self.link.report_interval_s + self.link.poll_interval_s + MARGIN_S

    def _ours(self, record: ReportRecord) -> bool:
        return record.client_id == self.link.client_id

    async def telemetry(self, timeout_s: float | None = None) -> dict[str, list[Any]]:
        """The payloads of the first telemetry report sampled at or after this call."""
        return (await self.telemetry_record(timeout_s)).payloads()

    async def telemetry_record(
        self, timeout_s: float | None = None, *, after: int = -1
    ) -> ReportRecord:
        """The first telemetry report sampled at or after this call (and later than the report
        of index ``after``)."""
        called = now_epoch() - 0.001  # the report's start has millisecond resolution

        def fresh(record: ReportRecord) -> bool:
            if not self._ours(record):
                return False
            if record.report.get("eventID") != self.link.telemetry_event_id:
                return False
            sampled = _sampled_at(record)
            return sampled is not None and sampled >= called

        timeout = self.telemetry_timeout_s if timeout_s is None else timeout_s
        # Only the last few reports can have been sampled at this very instant.
        since = max(self._fresh_index, self.servicer.report_count() - 4, after + 1)
        found = await self._wait_for_report(fresh, timeout, since)
        if isinstance(found, ReportRecord):
            return found
        what = (
            f"no telemetry report from VEN {self.link.ven_name!r} within {timeout:g} s "
            f"(report interval {self.link.report_interval_s:g} s)"
        )
        if found:
            raise LinkLossTimeout(f"{what}; the link lost {found} of its exchanges meanwhile")
        raise OpenAdrBindingError(what)

    async def _wait_for_report(
        self, predicate: Callable[[ReportRecord], bool], timeout_s: float, since: int
    ) -> ReportRecord | int:
        """The first matching report from index ``since``, or how many exchanges the link lost
        while none came (0: a clean link, so the VEN did not report).

        On a lossy link a report can be lost (the VEN sends it again later) or the poll that
        would have shown the VEN the event: so while the link keeps losing exchanges the wait
        goes on until a whole ``timeout_s`` has passed with no loss, for at most
        :data:`MAX_STRETCH` times ``timeout_s``. A clean link waits ``timeout_s`` exactly."""
        started = now_epoch()
        deadline = started + timeout_s
        limit = started + MAX_STRETCH * timeout_s
        while True:
            try:
                return await self.servicer.wait_for_report(
                    predicate, max(0.0, deadline - now_epoch()), since=since
                )
            except ServicerTimeout:
                pass
            drops = [moment for moment in self.servicer.link_drops if moment >= started]
            if not drops:
                return 0
            later = min(limit, drops[-1] + timeout_s)
            if later <= deadline:
                return len(drops)
            deadline = later

    async def _value(self, payloads: Mapping[str, list[Any]], kind: str) -> Any:
        values = payloads.get(kind)
        if not values:
            raise OpenAdrBindingError(f"the telemetry report carries no {kind}")
        return values[0]

    async def _number(self, payloads: Mapping[str, list[Any]], kind: str) -> float:
        value = await self._value(payloads, kind)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OpenAdrBindingError(f"{kind} should be a number, the report has {value!r}")
        return float(value)

    # -- events ----------------------------------------------------------------------------------
    async def publish(
        self,
        payload_type: str,
        values: Sequence[Any],
        duration_s: float | None,
        *,
        units: str | None = None,
        replace: bool = True,
        name: str = "DR",
    ) -> tuple[dict[str, Any], DrAck]:
        """Publish an event (replacing the previous DR event) and await its request status."""
        since = self.servicer.report_count()
        event = await self.servicer.publish_event(
            self.link.program_id,
            start=datetime.now(UTC),
            duration_s=duration_s,
            payload_type=payload_type,
            values=values,
            units=units,
            name=name,
        )
        if replace:
            await self.delete_dr_events(keep=event["id"])
            self._dr_events.append(event["id"])
        return event, await self.request_status(event["id"], since)

    async def request_status(self, event_id: str, since: int) -> DrAck:
        def status(record: ReportRecord) -> bool:
            return (
                self._ours(record)
                and record.report.get("eventID") == event_id
                and vocab.REQUEST_STATUS in record.payloads()
            )

        timeout = self.ack_timeout_s
        record = await self._wait_for_report(status, timeout, since)
        if not isinstance(record, ReportRecord):
            what = f"no request-status report on event {event_id} in {timeout:g} s"
            if record:
                raise LinkLossTimeout(f"{what}; the link lost {record} of its exchanges meanwhile")
            return DrAck(False, what)
        self._fresh_index = record.index + 1
        values = record.payloads()[vocab.REQUEST_STATUS]
        if values and values[0] == vocab.ACCEPTED:
            return DrAck(True, vocab.ACCEPTED)
        reason = ", ".join(str(v) for v in values[1:]) or "no reason given"
        return DrAck(False, f"refused: {reason}")

    async def delete_dr_events(self, keep: str | None = None) -> None:
        published = {e["id"] for e in self.servicer.events()}
        for event_id in self._dr_events:
            if event_id != keep and event_id in published:
                await self.servicer.delete_event(event_id)
        self._dr_events = [e for e in self._dr_events if e == keep]

    # -- *-1.1 (the VEN is there), *-ID, *-3.3 -----------------------------------------------
    def _ven(self) -> dict[str, Any]:
        vens = [v for v in self.servicer.vens() if v.get("clientID") == self.link.client_id]
        if not vens:
            raise OpenAdrBindingError(f"no VEN has registered as client {self.link.client_id!r}")
        named = [v for v in vens if v.get("venName") == self.link.ven_name]
        return (named or vens)[-1]

    def _attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attribute in self._ven().get("attributes") or []:
            values = attribute.get("values") or []
            if values:
                out[str(attribute.get("type"))] = values[0]
        return out

    async def communication_check(self) -> CommunicationReport:
        problems: list[str] = []
        names: tuple[str, ...] = ()
        try:
            names = (str(self._ven()["venName"]),)
        except OpenAdrBindingError as exc:
            problems.append(str(exc))
        try:
            await self.servicer.wait_for_poll(self.link.client_id, now_epoch(), self.ack_timeout_s)
        except ServicerTimeout as exc:
            problems.append(f"the VEN does not poll: {exc}")
        return CommunicationReport(bool(names), names, (), (), tuple(problems))

    async def identity(self) -> Identity:
        attributes = self._attributes()
        values = {
            field: (str(attributes[kind]) if kind in attributes else None)
            for kind, field in vocab.IDENTITY_ATTRIBUTES.items()
        }
        return Identity(**values)

    async def appendix_release(self) -> str | None:
        value = self._attributes().get(vocab.APPENDIX_RELEASE)
        return None if value is None else str(value)

    async def node_version(self) -> str | None:
        value = self._attributes().get(vocab.FIRMWARE_VERSION)
        return None if value is None else str(value)

    # -- comms loss ------------------------------------------------------------------------------
    def cut_comms(self) -> None:
        self.servicer.outage = self.comms_loss_mode

    def restore_comms(self) -> None:
        self.servicer.outage = "none"

    # -- *-1.2 and *-3.2 ---------------------------------------------------------------------------
    async def structured_data(self) -> StructuredDataReport:
        kinds = {"reports": "report", "vens": "ven", "subscriptions": "subscription"}
        counts: dict[str, int] = {}
        for record in self.servicer.requests:
            resource = record.path.strip("/").split("/")[0]
            if record.method in ("POST", "PUT") and resource in kinds:
                if record.client_id != self.link.client_id:
                    continue
                kind = kinds[resource]
            elif record.method == "POST" and record.path == "/auth/token":
                kind = "token request"
            elif record.method == "GET" and resource == "events":
                if record.client_id != self.link.client_id:
                    continue
                kind = "poll"
            else:
                continue
            counts[kind] = counts.get(kind, 0) + 1
        findings = tuple(
            SchemaFinding(f"{f.method} {f.path}", f.document, f.errors)
            for f in self.servicer.findings
            if f.client_id in (self.link.client_id, "")
        )
        return StructuredDataReport(counts, findings)

    def probe_kinds(self) -> tuple[str, ...]:
        return self.probes.kinds()

    async def probe(self, kind: str) -> ProbeResult:
        return await self.probes.run(kind)

    def close(self) -> None:
        if self._on_close is not None:
            release, self._on_close = self._on_close, None
            release()


class OpenAdrBatteryBinding(OpenAdrDeviceBinding):
    """A storage battery: setpoint events (kW), backup-reserve events, battery telemetry."""

    async def return_to_own_mode(self) -> None:
        await self.set_own_mode(self.link.own_mode)

    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck:
        _, ack = await self.publish(
            vocab.SETPOINT, [vocab.kw(target_w)], duration_s, units=vocab.UNITS[vocab.TARGET]
        )
        return ack

    async def set_own_mode(self, mode: str) -> None:
        seen = await self._end_dr(mode)
        if seen != mode:
            raise OpenAdrBindingError(
                f"the DR events were deleted; {self._release_timeout_s:g} s later the device "
                f"reports mode {seen}, not its own mode {mode}"
            )

    async def release_dr(self, own_mode: str) -> None:
        """Delete the DR events and give the VEN time to pass that on; whether the device did
        return is for the caller to read (the facade checks it)."""
        await self._end_dr(own_mode)

    @property
    def _release_timeout_s(self) -> float:
        return 2 * (self.link.poll_interval_s + self.link.report_interval_s) + MARGIN_S

    async def _end_dr(self, mode: str) -> str:
        """Delete the DR events; the mode the device reports once it is back in ``mode``, or,
        if it is not within the release timeout, the last it reported."""
        if mode != self.link.own_mode:
            raise OpenAdrBindingError(
                f"own mode {mode!r}: over OpenADR 3 the servicer cannot choose the device's own "
                f"mode; it can only end the DR, which returns the device to {self.link.own_mode!r}"
            )
        await self.delete_dr_events()
        timeout = self._release_timeout_s
        loop_start = now_epoch()
        seen = "nothing"
        last = -1
        while now_epoch() - loop_start <= timeout:
            record = await self.telemetry_record(after=last)
            last = record.index
            seen = str(await self._value(record.payloads(), vocab.MODE))
            if seen == mode:
                break
        return seen

    async def read_mode(self) -> str:
        return str(await self._value(await self.telemetry(), vocab.MODE))

    async def read_target_w(self) -> float:
        return vocab.watts(await self._number(await self.telemetry(), vocab.TARGET))

    async def read_ratings(self) -> tuple[float, float]:
        payloads = await self.telemetry()
        return (
            vocab.watts(await self._number(payloads, vocab.MAX_CHARGE)),
            vocab.watts(await self._number(payloads, vocab.MAX_DISCHARGE)),
        )

    async def status(self) -> Status:
        payloads = await self.telemetry()

        async def kwh(kind: str) -> float | None:
            return vocab.watts(await self._number(payloads, kind)) if kind in payloads else None

        return Status(
            power_w=vocab.watts(await self._number(payloads, vocab.DEMAND)),
            mode=str(await self._value(payloads, vocab.MODE)),
            actual_mode=str(await self._value(payloads, vocab.ACTUAL_MODE)),
            soc_pct=100.0 * await self._number(payloads, vocab.CHARGE_LEVEL),
            chargeable_wh=vocab.watts(await self._number(payloads, vocab.CHARGEABLE)),
            dischargeable_wh=vocab.watts(await self._number(payloads, vocab.DISCHARGEABLE)),
            charged_wh=await kwh(vocab.CHARGED),
            discharged_wh=await kwh(vocab.DISCHARGED),
            reserve_pct=await self._number(payloads, vocab.RESERVE),
            working_status=str(await self._value(payloads, vocab.ACTUAL_MODE)),
        )

    async def set_backup_reserve_pct(self, pct: float) -> None:
        event, ack = await self.publish(
            vocab.BACKUP_RESERVE, [pct], None, replace=False, name="backup reserve"
        )
        # A setting, not a DR: once taken (or refused) the event has done its work.
        await self.servicer.delete_event(event["id"])
        if not ack.accepted:
            raise OpenAdrBindingError(f"backup reserve {pct:g} %: {ack.detail}")


class TelemetryTimeout(OpenAdrBindingError, ExchangeError):
    """No water-heater telemetry report in time: the exchange failed, nothing was judged."""


class OpenAdrWaterHeaterBinding(OpenAdrDeviceBinding):
    """A heat-pump or hybrid water heater: start-time events, water-heater telemetry."""

    _step_s = 60.0

    async def device_time(self) -> datetime:
        text = str(await self._value(await self.telemetry(), vocab.DEVICE_TIME))
        return datetime.fromisoformat(text)

    def start_time_step_s(self) -> float:
        """The resolution the VEN last reported (a minute, the wire's, until it has)."""
        for record in reversed(self.servicer.reports(max(0, self.servicer.report_count() - 50))):
            values = record.payloads().get(vocab.START_STEP) if self._ours(record) else None
            if values and isinstance(values[0], int | float):
                return float(values[0])
        return self._step_s

    async def request_start_time(self, tod_s: float) -> DrAck:
        _, ack = await self.publish(vocab.START_TIME, [tod_text(tod_s)], None)
        return ack

    async def clear_start_time(self) -> DrAck:
        """The vocabulary has no way to withdraw a plan: deleting the start-time event leaves
        it in force (it clears at its start time), so this only tidies the events away."""
        await self.delete_dr_events()
        return DrAck(
            False,
            "over OpenADR 3 a heating plan cannot be withdrawn (deleting its event leaves it); "
            "it clears at its start time",
        )

    async def planned_start(self) -> float | None:
        text = str(await self._value(await self.telemetry(), vocab.PLANNED_START))
        return None if text == vocab.NO_PLAN else tod_seconds(text)

    async def heating_mode(self) -> str | None:
        return None  # the telemetry carries no automatic-heating setting

    async def dr_possible_wh(self) -> float:
        return vocab.watts(await self._number(await self.telemetry(), vocab.DR_POSSIBLE))

    async def heater_status(self) -> HeaterStatus:
        """The witnesses of the heating the report carries (demand, energy, heating status).

        A report that does not come in time is a lost poll: :class:`TelemetryTimeout`, an
        exchange failure, so a sampling series can go on past it."""
        try:
            payloads = await self.telemetry()
        except OpenAdrBindingError as exc:
            raise TelemetryTimeout(str(exc)) from None
        aux = payloads.get(vocab.AUX_HEATING)
        kinds = {POWER_WITNESS: vocab.DEMAND, ENERGY_WITNESS: vocab.ENERGY}
        numbers = {
            witness: vocab.watts(await self._number(payloads, kind))
            for witness, kind in kinds.items()
            if payloads.get(kind)
        }
        offered = {*numbers, *([STATUS_WITNESS] if payloads.get(vocab.HEATING) else [])}
        return HeaterStatus(
            power_w=numbers.get(POWER_WITNESS, 0.0),
            heating=bool(payloads.get(vocab.HEATING, [False])[0]),
            aux_on=None if not aux else bool(aux[0]),
            energy_wh=numbers.get(ENERGY_WITNESS, 0.0),
            witnesses=tuple(w for w in HEATER_WITNESSES if w in offered),
        )
