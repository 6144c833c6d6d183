#!/usr/bin/env python3
"""OpenADR 3 servicer under load: many VENs polling it over TLS on loopback, in real time.

    python3 benchmarks/openadr_load.py [--vens 500] [--seconds 30] [--report-every 10] [--json]

The servicer (drready.openadr.server.Servicer, TLS with a per-run trustme CA, evidence
logged in memory as in a run) runs in a child process; this process runs the VENs
(drready.openadr.ven.VenClient, one keep-alive TLS connection each): every VEN fetches a
token, then GETs /events every --poll-every seconds and POSTs a report every --report-every
seconds, on fixed schedules staggered across the VENs. Figures, over the requests started after
--warmup seconds (token fetches and TLS handshakes excluded):

- poll latency p50/p95/p99/max (target: p99 < 100 ms), polls per second, failures;
- report latency likewise; reports acknowledged (2xx) against reports the servicer stored.

The servicer process also reports its garbage collector's full (generation 2) pauses: the
evidence log keeps every record in memory, so the live heap, and with it each full collection,
grows with the run; ``--evidence discard`` still builds and chains every record but keeps none,
which shows how much of the latency tail is that.

Exit status 1 when an acknowledged report is missing from the servicer ("no lost report") or when
the servicer recorded a fault of its own; a missed latency target is reported, not fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `drready` from this checkout

from drready.evidence import EvidenceLog  # noqa: E402
from drready.openadr.server import Servicer  # noqa: E402
from drready.openadr.validation import (  # noqa: E402
    DR_POSSIBLE_ENERGY,
    POWER_SETPOINT,
    STORAGE_CHARGE_LEVEL,
    UNITS_KW,
)
from drready.openadr.ven import VenClient, VenError, build_report  # noqa: E402

P99_TARGET_MS = 100.0
#: How long the servicer process may take to start, and to answer at the end.
CHILD_TIMEOUT_S = 60.0


class DiscardingEvidence(EvidenceLog):
    """Benchmark diagnostic only: every record is made, hashed and chained as usual, then dropped
    (a run keeps them all), to tell the log's memory cost from the rest."""

    made = 0

    def add(self, *args: Any, **kwargs: Any) -> Any:
        record = super().add(*args, **kwargs)
        self._records.clear()
        self.made += 1
        return record

    def __len__(self) -> int:
        return self.made


class FullCollections:
    """Durations of the garbage collector's generation-2 passes in this process."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info.get("generation") == 2:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)


def credentials(count: int) -> dict[str, str]:
    return {f"ven-{i:04d}": f"secret-{i:04d}" for i in range(count)}


# -- the servicer process ----------------------------------------------------------------------
def serve(
    pipe: Connection,
    cert_pem: bytes,
    key_pem: bytes,
    vens: int,
    ready_timeout_s: float,
    keep_evidence: bool,
) -> None:
    """Child process: run the servicer until the parent says stop, then send its counts."""
    with tempfile.TemporaryDirectory(prefix="drready-oadr-") as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
    asyncio.run(_serve(pipe, context, vens, ready_timeout_s, keep_evidence))


async def _serve(
    pipe: Connection, context: ssl.SSLContext, vens: int, timeout_s: float, keep_evidence: bool
) -> None:
    evidence = EvidenceLog(time.time) if keep_evidence else DiscardingEvidence(time.time)
    collections = FullCollections()
    servicer = Servicer(evidence, clients=credentials(vens), ssl_context=context)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(pipe.fileno(), stop.set)
    async with servicer:
        program = await servicer.add_program("load")
        event = await servicer.publish_event(
            program["id"],
            start=datetime.now(UTC),
            duration_s=None,
            payload_type=POWER_SETPOINT,
            values=[-1.5],
            units=UNITS_KW,
        )
        pipe.send({"base_url": servicer.base_url, "event_id": event["id"]})
        # Bounded even if the parent dies without a word: the whole run plus a margin.
        try:
            async with asyncio.timeout(timeout_s):
                await stop.wait()
        except TimeoutError:
            pass
        loop.remove_reader(pipe.fileno())
        if pipe.poll(0):
            pipe.recv()
        stored = [r.report["id"] for r in servicer.reports() if r.operation == "CREATE"]
        answer = {
            "stored_report_ids": stored,
            "requests": len(servicer.requests),
            "findings": len(servicer.findings),
            "errors": [repr(e) for e in servicer.errors],
            "evidence_records": len(evidence),
            "full_gc_pauses": len(collections.pauses_ms),
            "full_gc_max_ms": max(collections.pauses_ms, default=0.0),
            "tracked_objects": len(gc.get_objects()),
        }
    pipe.send(answer)


# -- the VEN process ----------------------------------------------------------------------------
@dataclass
class Load:
    warmup_until: float  # loop time
    poll_ms: list[float] = field(default_factory=list)
    report_ms: list[float] = field(default_factory=list)
    poll_failures: int = 0
    report_failures: int = 0
    acked_ids: list[str] = field(default_factory=list)
    token_failures: int = 0
    failure_examples: list[str] = field(default_factory=list)

    def failed(self, what: str, exc: Exception) -> None:
        if len(self.failure_examples) < 5:
            self.failure_examples.append(f"{what}: {exc}")


async def one_ven(
    number: int,
    base_url: str,
    event_id: str,
    context: ssl.SSLContext,
    load: Load,
    *,
    begin: float,
    end: float,
    poll_every_s: float,
    report_every_s: float,
    vens: int,
) -> None:
    loop = asyncio.get_running_loop()
    client_id = f"ven-{number:04d}"
    secret = f"secret-{number:04d}"
    offset = poll_every_s * number / vens  # stagger: the VENs do not poll in step
    async with VenClient(base_url, client_id, secret, ssl=context, timeout_s=10) as ven:
        await asyncio.sleep(max(0.0, begin + offset - loop.time()))
        try:
            await ven.fetch_token()
        except VenError as exc:
            load.token_failures += 1
            load.failed("token", exc)
            return
        tick = 0
        next_report = begin + offset + report_every_s * ((number % 10) / 10 + 0.05)
        while True:
            due = begin + offset + tick * poll_every_s
            tick += 1
            if due >= end:
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            measured = loop.time() >= load.warmup_until
            started = time.perf_counter()
            try:
                await ven.events()
            except VenError as exc:
                load.poll_failures += 1
                load.failed("poll", exc)
            else:
                if measured:
                    load.poll_ms.append((time.perf_counter() - started) * 1000)
            if loop.time() >= next_report:
                next_report += report_every_s
                report = build_report(
                    event_id,
                    client_id,
                    "battery",
                    {STORAGE_CHARGE_LEVEL: [0.5], DR_POSSIBLE_ENERGY: [2.0]},
                )
                started = time.perf_counter()
                try:
                    answer = await ven.post_report(report)
                except VenError as exc:
                    load.report_failures += 1
                    load.failed("report", exc)
                else:
                    load.acked_ids.append(answer["id"])
                    if measured:
                        load.report_ms.append((time.perf_counter() - started) * 1000)


async def drive(
    base_url: str,
    event_id: str,
    context: ssl.SSLContext,
    *,
    vens: int,
    seconds: float,
    warmup_s: float,
    poll_every_s: float,
    report_every_s: float,
) -> Load:
    loop = asyncio.get_running_loop()
    begin = loop.time() + 0.2
    load = Load(warmup_until=begin + warmup_s)
    tasks = [
        one_ven(
            n,
            base_url,
            event_id,
            context,
            load,
            begin=begin,
            end=begin + warmup_s + seconds,
            poll_every_s=poll_every_s,
            report_every_s=report_every_s,
            vens=vens,
        )
        for n in range(vens)
    ]
    await asyncio.gather(*tasks)
    return load


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0], "max": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vens", type=int, default=500, help="simulated VENs (default 500)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds (30)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured start, s (3)")
    parser.add_argument("--poll-every", type=float, default=1.0, help="poll period, s (1)")
    parser.add_argument("--report-every", type=float, default=10.0, help="report period, s (10)")
    parser.add_argument(
        "--evidence",
        choices=("memory", "discard"),
        default="memory",
        help="keep the servicer's evidence records in memory as a run does (default), or "
        "discard each once made (diagnostic)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.vens < 1 or args.seconds <= 0 or args.poll_every <= 0 or args.report_every <= 0:
        parser.error("--vens, --seconds, --poll-every and --report-every must be > 0")

    import trustme  # a test dependency, like the rest of the benchmarks'

    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    spawn = multiprocessing.get_context("spawn")
    parent_end, child_end = spawn.Pipe()
    run_s = args.warmup + args.seconds
    child = spawn.Process(
        target=serve,
        args=(
            child_end,
            server_cert.cert_chain_pems[0].bytes(),
            server_cert.private_key_pem.bytes(),
            args.vens,
            run_s + CHILD_TIMEOUT_S,
            args.evidence == "memory",
        ),
        name="openadr-servicer",
    )
    child.start()
    try:
        if not parent_end.poll(CHILD_TIMEOUT_S):
            print("the servicer process did not start", file=sys.stderr)
            return 2
        hello = parent_end.recv()
        wall = time.perf_counter()
        load = asyncio.run(
            drive(
                hello["base_url"],
                hello["event_id"],
                client_context,
                vens=args.vens,
                seconds=args.seconds,
                warmup_s=args.warmup,
                poll_every_s=args.poll_every,
                report_every_s=args.report_every,
            )
        )
        wall = time.perf_counter() - wall
        parent_end.send("stop")
        if not parent_end.poll(CHILD_TIMEOUT_S):
            print("the servicer process did not answer at the end", file=sys.stderr)
            return 2
        server = parent_end.recv()
    finally:
        child.join(CHILD_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join()

    stored = set(server["stored_report_ids"])
    lost = [i for i in load.acked_ids if i not in stored]
    polls = percentiles(load.poll_ms)
    reports = percentiles(load.report_ms)
    p99 = polls["p99"]
    verdict = "n/a" if p99 is None else ("PASS" if p99 < P99_TARGET_MS else "MISS")
    figures = {
        "machine": {
            "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(),
            "loadavg_1min_before": load_average,
        },
        "vens": args.vens,
        "seconds": args.seconds,
        "evidence": args.evidence,
        "wall_s": round(wall, 3),
        "polls": {"measured": len(load.poll_ms), "failed": load.poll_failures, **polls},
        "poll_rate_per_s": len(load.poll_ms) / args.seconds,
        "reports": {"measured": len(load.report_ms), "failed": load.report_failures, **reports},
        "reports_acked": len(load.acked_ids),
        "reports_stored": len(stored),
        "reports_lost": len(lost),
        "token_failures": load.token_failures,
        "failure_examples": load.failure_examples,
        "p99_target_ms": P99_TARGET_MS,
        "p99_result": verdict,
        "server": {k: v for k, v in server.items() if k != "stored_report_ids"},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        machine = figures["machine"]
        print(
            f"OpenADR 3 servicer load: {args.vens} VENs over TLS on loopback, polling every "
            f"{args.poll_every:g} s, reporting every {args.report_every:g} s; {args.seconds:g} s "
            f"measured after {args.warmup:g} s warm-up (nproc {machine['nproc']}, Python "
            f"{machine['python']}, load {load_average})"
        )
        print(
            f"polls:   {len(load.poll_ms):,} ({figures['poll_rate_per_s']:,.0f}/s), "
            f"{load.poll_failures} failed; p50 {_ms(polls['p50'])}, p95 {_ms(polls['p95'])}, "
            f"p99 {_ms(p99)}, max {_ms(polls['max'])}  [p99 < {P99_TARGET_MS:g} ms: {verdict}]"
        )
        print(
            f"reports: {len(load.report_ms):,} measured, {load.report_failures} failed; "
            f"p50 {_ms(reports['p50'])}, p95 {_ms(reports['p95'])}, p99 {_ms(reports['p99'])}, "
            f"max {_ms(reports['max'])}"
        )
        print(
            f"no lost report: {len(load.acked_ids):,} acked, {len(stored):,} stored, "
            f"{len(lost)} lost  [{'PASS' if not lost else 'FAIL'}]"
        )
        kept = "kept" if args.evidence == "memory" else "made and discarded"
        print(
            f"servicer: {server['requests']:,} requests, {server['evidence_records']:,} evidence "
            f"records {kept}, {server['findings']} findings, {len(server['errors'])} faults of "
            f"its own; {server['full_gc_pauses']} full GC passes, longest "
            f"{server['full_gc_max_ms']:.0f} ms ({server['tracked_objects']:,} objects tracked "
            "at the end)"
        )
        for example in load.failure_examples:
            print(f"  failure: {example}")
    return 1 if lost or server["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
