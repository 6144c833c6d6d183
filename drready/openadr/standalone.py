"""The DR servicer on its own (``drready simulate servicer``): for a maker's integration testing.

A maker points its VEN (a device, a gateway, its cloud) at this servicer and watches what happens:
the servicer issues a token to the declared client, serves the DRready program and the standing
telemetry event of :mod:`drready.openadr.vocab`, publishes the DR events asked for on
the command line one after the other, and prints a line for every report it takes and every
document that breaks the schema (a DRready ``*-1.2`` finding). HTTPS with a CA made for this
session unless told otherwise; the CA's certificate is written where the VEN can be given it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from drready.evidence import EvidenceLog
from drready.openadr import vocab
from drready.openadr.server import Servicer, ServicerTimeout
from drready.openadr.tls import RunTls

#: File name of the session CA's certificate, in the chosen directory.
CA_FILE = "drready-servicer-ca.pem"
#: How long the console waits for news before looking again (bounded waits everywhere).
WATCH_S = 1.0
#: The report interval the telemetry event asks of a VEN (its value, in seconds).
REPORT_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Dispatch:
    """One DR event to publish: a battery setpoint (W, + charging) for ``duration_s``."""

    power_w: float
    duration_s: float


def parse_dispatch(text: str) -> Dispatch:
    """``W:SECONDS``, e.g. ``-1500:1800`` (discharge 1.5 kW for 30 minutes)."""
    power, sep, seconds = text.partition(":")
    try:
        if not sep:
            raise ValueError
        dispatch = Dispatch(float(power), float(seconds))
    except ValueError:
        raise ValueError(f"expected W:SECONDS like -1500:1800, got {text!r}") from None
    if not dispatch.duration_s > 0:
        raise ValueError(f"the duration must be > 0 s, got {text!r}")
    return dispatch


async def serve(
    host: str,
    port: int,
    *,
    tls: bool,
    client_id: str,
    client_secret: str,
    cert_dir: Path,
    evidence_path: Path | None,
    dispatches: Sequence[Dispatch],
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> dict[str, int]:
    """Serve until ``stop`` is set; the counts of what happened."""
    evidence = EvidenceLog(lambda: datetime.now(UTC).timestamp(), evidence_path)
    context = None
    if tls:
        run_tls = RunTls(hosts=("localhost", host))
        context = run_tls.server_context()
        cert_dir.mkdir(parents=True, exist_ok=True)
        (cert_dir / CA_FILE).write_bytes(run_tls.ca_pem)
    servicer = Servicer(
        evidence, clients={client_id: client_secret}, ssl_context=context, host=host, port=port
    )
    base_url = await servicer.start()
    try:
        program = await servicer.add_program(vocab.PROGRAM_NAME)
        await servicer.publish_event(
            program["id"],
            start=datetime.now(UTC),
            duration_s=None,
            payload_type=vocab.TELEMETRY,
            values=[REPORT_INTERVAL_S],
            name="drready-telemetry",
        )
        say(f"DR servicer (OpenADR 3) at {base_url}, token endpoint {base_url}/auth/token")
        say(f"client {client_id!r} (client-credentials grant); program {vocab.PROGRAM_NAME!r}")
        if tls:
            say(f"the VEN must trust {cert_dir / CA_FILE} (a CA made for this session)")
        else:
            say("plain HTTP, on request: not what a DRready device may accept")
        say("Ctrl-C stops")
        return await _watch(servicer, program["id"], dispatches, stop, say)
    finally:
        await servicer.close()
        evidence.close()


async def _watch(
    servicer: Servicer,
    program_id: str,
    dispatches: Sequence[Dispatch],
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    queue = list(dispatches)
    next_at = loop.time()
    seen_reports = 0
    seen_findings = 0
    published = 0
    while not stop.is_set():
        if queue and loop.time() >= next_at:
            dispatch = queue.pop(0)
            event = await servicer.publish_event(
                program_id,
                start=datetime.now(UTC),
                duration_s=dispatch.duration_s,
                payload_type=vocab.SETPOINT,
                values=[vocab.kw(dispatch.power_w)],
                units="KW",
            )
            published += 1
            next_at = loop.time() + dispatch.duration_s
            say(f"event {event['id']}: {dispatch.power_w:+.0f} W for {dispatch.duration_s:g} s")
        with contextlib.suppress(ServicerTimeout):
            await servicer.wait_for_report(lambda _: True, WATCH_S, since=seen_reports)
        for record in servicer.reports(seen_reports):
            payloads = ", ".join(f"{k}={v}" for k, v in record.payloads().items())
            say(
                f"report from {record.client_id} on event {record.report.get('eventID')}: "
                f"{payloads}"
            )
        seen_reports = len(servicer.reports())
        for finding in servicer.findings[seen_findings:]:
            say(
                f"schema violation ({finding.method} {finding.path}, {finding.client_id or '?'}): "
                f"{'; '.join(finding.errors[:3])}"
            )
        seen_findings = len(servicer.findings)
    return {
        "requests": len(servicer.requests),
        "reports": seen_reports,
        "findings": seen_findings,
        "events": published,
    }
