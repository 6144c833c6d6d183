#!/usr/bin/env python3
"""drready benchmarks: measured figures with their targets. Reports; never asserts.

    python3 benchmarks/run.py [--seconds N] [--load-seconds N] [--fleet-count N]
                              [--matrix [--matrix-rows REGEX]] [--seeds N] [--json]

1. the battery suite against the built-in simulator in virtual time (a pytest subprocess): wall
   time, simulated time covered, requirements passed; then the heat-pump and hybrid suites;
2. Get round trips per second from drready's gateway to the simulator over loopback UDP;
3. the ceiling: a bare asyncio UDP echo pair with the same datagram sizes;
4. the same Get loop through pychonet, an independent HEMS controller library;
5. (2) as a share of (3);
6. peak RSS of this process and of the suite subprocess;
7. plain `drready run` (every class over every binding, 10 parts, one combined report): wall
   time and device time;
8. the OpenADR 3 servicer under load: 500 VENs polling every second over TLS on loopback
   (benchmarks/openadr_load.py in a subprocess): poll latency p99 and lost reports;
9. a fleet of 1,000 simulated batteries in one process (benchmarks/fleet.py in a subprocess):
   devices answering, memory per device, Get round trips per second across the fleet;
10. each part of the plain run of 7, from that run itself (the combined report's parts[].usage,
   measured as the run reaped each part's child): wall time, device time, CPU time, peak RSS;
11. with --matrix: the detection matrix's wall time, as CI runs it (pytest in a subprocess);
12. with --seeds N: the golden simulators of every class and binding over seeds 1 to N
   (benchmarks/seeds.py): runs and false fails.

See benchmarks/README.md for what each figure means. Exit status is 0 even when a target is missed.
One script past ~500 lines: each figure's measurement sits next to its formatting, and it runs from
a checkout as a plain file (benchmarks/ is not a package).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import platform
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `simulators` and `drready` from this checkout

from drready.simulators.battery import (  # noqa: E402
    BATTERY_EOJ,
    BatteryConfig,
    BatteryDevice,
)

from drready.echonet.codec import CONTROLLER, ESV, Frame, Property, decode  # noqa: E402
from drready.echonet.gateway import Gateway  # noqa: E402
from drready.echonet.transport import (  # noqa: E402
    Address,
    open_udp_endpoint,
)
from drready.evidence import EvidenceLog  # noqa: E402

GATEWAY_HOST = "127.0.0.1"
SIM_HOST = "127.0.0.2"
PEER_HOST = "127.0.0.3"  # the bare echo and canned responders
ECHONET_PORT = 3610  # pychonet only ever talks to this port
EPC_POWER = 0xD3  # measured instantaneous charging/discharging power
WARMUP_ROUND_TRIPS = 200
#: A loop that has not finished this long after its N seconds is stuck (a lost datagram).
PHASE_SLACK_S = 10.0
#: The N seconds of each loop are cut into this many slices, alternating between the loops.
ROUNDS = 10

SUITE_WALL_TARGET_S = 5.0
#: The battery suite's device time on the built-in profile (3.3 h since its waits overlap).
SUITE_SIMULATED_TARGET_S = 3 * 3600.0
#: Water heaters: two days of device time or more, including a night.
HEATER_SIMULATED_TARGET_S = 48 * 3600.0
#: The plain run (every class over every binding, 10 parts) on 2 idle cores: at most 15 s, 10 s
#: the goal.
ALL_WALL_TARGET_S = 15.0
ALL_WALL_GOAL_S = 10.0
#: Each server-topology part of the plain run (OpenADR 3, Web API), from spawn to exit.
PART_SERVER_WALL_TARGET_S = 5.0
#: Every part's peak RSS.
PART_RSS_TARGET_MB = 150.0
ALL_SIMULATED_TARGET_S = 24 * 3600.0
CLASSES = ("battery", "heatpump", "hybrid")
RATIO_TARGET = 0.50
RSS_TARGET_MB = 150.0


@dataclass
class Figure:
    key: str
    label: str
    value: float | None
    unit: str
    target: str
    result: str  # PASS, MISS, info or n/a
    note: str = ""


def _judge(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return "n/a"
    return "PASS" if ok(value) else "MISS"


def _rss_mb(maxrss: int) -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    factor = 1 if sys.platform == "darwin" else 1024
    return maxrss * factor / 1e6


# -- 1. the suites in virtual time -------------------------------------------------------------
def run_suite(device_class: str = "battery") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="drready-bench-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--simulate",
            device_class,
            "-q",
            "-p",
            "no:cacheprovider",
            "--report-dir",
            tmp,
        ]
        start = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return {"error": "the suite did not finish within 300 s"}
        wall = time.perf_counter() - start
        # Read now: any later child (even `uname` run by the platform module) would report at
        # least this process's own peak, which Linux hands to a child that execs.
        child_rss = _rss_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        out: dict[str, Any] = {
            "wall_s": wall,
            "exit_status": proc.returncode,
            "peak_rss_mb": child_rss,
        }
        report_path = Path(tmp) / "report.json"
        if not report_path.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            out["error"] = "no report.json; last output: " + " | ".join(tail)
            return out
        report = json.loads(report_path.read_text(encoding="utf-8"))
    verdicts = [r["verdict"] for r in report.get("requirements", [])]
    out["simulated_s"] = float(report["device_time"]["covered_s"])
    out["requirements"] = len(verdicts)
    out["passed"] = verdicts.count("pass")
    out["failed"] = verdicts.count("fail")
    out["summary"] = report.get("summary", {})
    return out


# -- 7 and 10. plain `drready run`: every class over every binding, one combined report ----------
def run_all() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="drready-bench-all-") as tmp:
        command = [sys.executable, "-m", "drready.cli", "run", "--report-dir", tmp]
        start = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return {"error": "`drready run` did not finish within 300 s"}
        out: dict[str, Any] = {
            "wall_s": time.perf_counter() - start,
            "exit_status": proc.returncode,
        }
        combined_path = Path(tmp) / "report.json"
        if not combined_path.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            out["error"] = "no combined report; last output: " + " | ".join(tail)
            return out
        combined = json.loads(combined_path.read_text(encoding="utf-8"))
        own: dict[str, dict[str, Any]] = {}
        for entry in combined.get("parts", []):
            path = Path(tmp) / str(entry.get("report") or "-")
            if entry.get("report") and path.is_file():
                own[entry["name"]] = json.loads(path.read_text(encoding="utf-8"))
    out.update(plain_run(combined, own))
    return out


def plain_run(combined: dict[str, Any], own: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The figures of a plain run from its combined report and its parts' own reports (by part
    name): per part its device time (``device_time.covered_s`` of its report), its wall time,
    CPU time and peak RSS (``parts[].usage``, which the run measured as it reaped each part's
    child)."""
    parts: list[dict[str, Any]] = []
    for entry in combined.get("parts", []):
        name = entry.get("name") or entry["device_class"]
        report = own.get(name, {})
        device_time = report.get("device_time") or entry.get("device_time") or {}
        covered = device_time.get("covered_s")
        usage = entry.get("usage") or {}
        parts.append(
            {
                "name": name,
                "device_class": entry["device_class"],
                "topology": entry.get("topology"),
                "binding": entry.get("binding"),
                "exit_status": entry.get("exit_status"),
                "complete": entry.get("complete"),
                "covered_s": float(covered) if covered is not None else None,
                "wall_s": usage.get("wall_s"),
                "cpu_s": usage.get("cpu_s"),
                "peak_rss_mb": usage.get("peak_rss_mb"),
            }
        )
    covered_by_class: dict[str, float] = {}
    for part in parts:
        if part["covered_s"] is not None:
            cls = part["device_class"]
            covered_by_class[cls] = covered_by_class.get(cls, 0.0) + part["covered_s"]
    return {
        "covered_s": covered_by_class,
        "requirements": len(combined.get("requirements", [])),
        "summary": combined.get("summary", {}),
        "parts": parts,
    }


# -- network helpers ---------------------------------------------------------------------------
def port_free(host: str, port: int) -> str | None:
    """None if ``host:port`` can be bound, else why not.

    Probed without SO_REUSEADDR: drready's endpoint sets it, and on Linux a second such socket
    binds the same unicast address without error and takes its datagrams.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"UDP {host}:{port} is in use by another process"
        return f"cannot bind UDP {host}:{port}: {exc.strerror or exc}"
    finally:
        probe.close()
    return None


RoundTrip = Callable[[], Awaitable[object]]


@dataclass
class Loop:
    """One request-reply loop, measured in slices interleaved with the other loops."""

    round_trip: RoundTrip
    count: int = 0
    elapsed_s: float = 0.0
    slice_rates: list[float] = field(default_factory=list)

    async def warm_up(self) -> None:
        for _ in range(WARMUP_ROUND_TRIPS):
            await self.round_trip()

    async def run_slice(self, seconds: float) -> None:
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        now = start
        while now < deadline:
            await self.round_trip()
            count += 1
            now = time.perf_counter()
        self.count += count
        self.elapsed_s += now - start
        self.slice_rates.append(count / (now - start))

    def result(self) -> dict[str, Any]:
        return {
            "per_s": self.count / self.elapsed_s,
            "round_trips": self.count,
            "slice_min_per_s": min(self.slice_rates),
            "slice_max_per_s": max(self.slice_rates),
        }


# -- 2. drready's gateway ----------------------------------------------------------------------
async def gateway_loop(
    address: Address, stack: contextlib.AsyncExitStack
) -> tuple[Loop, EvidenceLog]:
    evidence = EvidenceLog(time.time)  # no path: records are kept in memory
    gateway = Gateway(evidence)
    gateway.attach(await open_udp_endpoint(gateway.datagram_received, GATEWAY_HOST, 0))
    stack.callback(gateway.close)
    return Loop(lambda: gateway.get(address, BATTERY_EOJ, [EPC_POWER])), evidence


# -- 3. the ceiling: bare asyncio UDP echo ------------------------------------------------------
class _Requester(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)


async def echo_loop(
    request: bytes, server_address: Address, stack: contextlib.AsyncExitStack
) -> Loop:
    loop = asyncio.get_running_loop()
    client, requester = await loop.create_datagram_endpoint(
        _Requester, local_addr=(GATEWAY_HOST, 0)
    )
    stack.callback(client.close)

    async def round_trip() -> bytes:
        waiter: asyncio.Future[bytes] = loop.create_future()
        requester.waiter = waiter
        client.sendto(request, server_address)
        return await waiter

    return Loop(round_trip)


# -- 4. pychonet ------------------------------------------------------------------------------
async def pychonet_rate(seconds: float) -> dict[str, Any]:
    try:
        from pychonet import ECHONETAPIClient, Factory
        from pychonet.lib.udpserver import UDPServer
    except ImportError as exc:
        return {"error": f"pychonet is not installed ({exc}); pip install -e '.[test]'"}
    loop = asyncio.get_running_loop()
    udp = UDPServer(local_ip=GATEWAY_HOST)
    udp.run(GATEWAY_HOST, 0, loop=loop)
    try:
        api = ECHONETAPIClient(udp)
        api.configure(message_timeout=20, logger=lambda *args: None)
        group, cls, inst = BATTERY_EOJ.class_group, BATTERY_EOJ.class_code, BATTERY_EOJ.instance
        if not await api.discover(SIM_HOST):
            return {"error": "pychonet: no reply to discovery"}
        if not await api.getAllPropertyMaps(SIM_HOST, group, cls, inst):
            return {"error": "pychonet: property maps unreadable"}
        battery = Factory(SIM_HOST, api, group, cls, inst)
        count = 0
        start = time.perf_counter()
        now = start
        while now < start + seconds:
            value = await battery.update(EPC_POWER)
            if not isinstance(value, int):
                return {"error": f"pychonet: unexpected 0xD3 value {value!r}"}
            count += 1
            now = time.perf_counter()
        return {"per_s": count / (now - start), "round_trips": count}
    finally:
        # close() cancels pychonet's tasks but leaves its reader registered on the loop.
        with contextlib.suppress(Exception):
            loop.remove_reader(udp._sock.fileno())
        udp.close()
        await asyncio.sleep(0)


PEER_START_TIMEOUT_S = 15.0


def start_peer(command: list[str], marker: str, stack: contextlib.ExitStack) -> int:
    """Start a responder process; return the port it reports once bound (bounded wait)."""
    proc = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=PEER_START_TIMEOUT_S):
            raise RuntimeError(f"peer {command[2:4]} printed nothing in {PEER_START_TIMEOUT_S} s")
    line = proc.stdout.readline()
    if marker not in line:
        raise RuntimeError(f"peer {command[2:4]} did not start: {line!r} {proc.stderr.read()!r}")
    return int(line.split(marker)[1].split()[0])


async def run_network(seconds: float) -> dict[str, Any]:
    """The Get loops. Every responder (simulator, canned reply, bare echo) is its own process,
    as a device on the LAN would be, so each loop measures one client against one peer."""
    results: dict[str, Any] = {}
    busy = port_free(SIM_HOST, ECHONET_PORT)
    port = ECHONET_PORT if busy is None else 0
    # Datagram sizes for the echo pair: a real Get of 0xD3 and the simulator's own answer.
    request = Frame(1, CONTROLLER, BATTERY_EOJ, ESV.GET, (Property(EPC_POWER),)).encode()
    device = BatteryDevice(BatteryConfig(), time.monotonic)
    reply = device.node.handle(decode_frame(request))[0].encode()
    results["frame_bytes"] = {"request": len(request), "reply": len(reply)}
    with contextlib.ExitStack() as processes:
        sim_port = start_peer(
            [
                sys.executable,
                "-m",
                "drready.cli",
                "simulate",
                "battery",
                "--bind",
                f"{SIM_HOST}:{port}",
            ],
            f"udp://{SIM_HOST}:",
            processes,
        )
        peer = [sys.executable, str(REPO / "benchmarks" / "peer.py")]
        canned_port = start_peer(
            [*peer, "canned", "--bind", f"{PEER_HOST}:0", "--reply-hex", reply.hex()],
            "PORT ",
            processes,
        )
        echo_port = start_peer(
            [*peer, "echo", "--bind", f"{PEER_HOST}:0", "--reply-hex", reply.hex()],
            "PORT ",
            processes,
        )
        async with contextlib.AsyncExitStack() as stack:
            gateway, evidence = await gateway_loop((SIM_HOST, sim_port), stack)
            canned, canned_evidence = await gateway_loop((PEER_HOST, canned_port), stack)
            loops = {
                "echo": await echo_loop(request, (PEER_HOST, echo_port), stack),
                "gateway": gateway,
                "gateway_canned": canned,
            }
            # Slices of the three loops alternate, so a load change hits them alike.
            try:
                async with asyncio.timeout(len(loops) * seconds + PHASE_SLACK_S):
                    for each in loops.values():
                        await each.warm_up()
                    for _ in range(ROUNDS):
                        for each in loops.values():
                            await each.run_slice(seconds / ROUNDS)
            except TimeoutError:
                results["error"] = "a round-trip loop got stuck (a datagram lost on loopback?)"
                return results
            for name, each in loops.items():
                results[name] = each.result()
            # Each round's gateway slice against the echo slice next to it in time; the median
            # of those ratios shrugs off a load change that hits some rounds and not others.
            per_round = [
                gw / echo
                for gw, echo in zip(gateway.slice_rates, loops["echo"].slice_rates, strict=True)
            ]
            results["ratio_per_round"] = per_round
            results["ratio_median"] = statistics.median(per_round)
            results["gateway"]["evidence_records"] = len(evidence)
            results["gateway_canned"]["evidence_records"] = len(canned_evidence)
            if port == ECHONET_PORT:
                try:
                    async with asyncio.timeout(seconds + PHASE_SLACK_S):
                        results["pychonet"] = await pychonet_rate(seconds)
                except TimeoutError:
                    results["pychonet"] = {"error": "pychonet got stuck"}
            else:
                results["pychonet"] = {"error": f"{busy}; pychonet needs port {ECHONET_PORT}"}
    return results


def decode_frame(data: bytes) -> Frame:
    frame = decode(data)
    assert isinstance(frame, Frame)
    return frame


# -- reporting ---------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    try:
        nproc = len(os.sched_getaffinity(0))  # what `nproc` prints
    except AttributeError:
        nproc = os.cpu_count() or 0
    uname = os.uname()
    cpu = uname.machine  # not platform.processor(): it runs `uname -p`
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": nproc,
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        # Not platform.platform(): it runs `uname -p` as a child process.
        "platform": f"{uname.sysname} {uname.release} {uname.machine}",
    }


def _heater_figures(name: str, suite: dict[str, Any]) -> list[Figure]:
    wall, simulated = suite.get("wall_s"), suite.get("simulated_s")
    ok = suite.get("exit_status") == 0 and suite.get("failed") == 0
    note = suite.get("error") or f"{suite.get('passed', 0)} of {suite.get('requirements', 0)} pass"
    return [
        Figure(
            f"suite_{name}_wall_s",
            f"   {name} suite, wall time",
            wall,
            "s",
            "-",
            ("info" if ok else "MISS") if wall is not None else "n/a",
            note,
        ),
        Figure(
            f"suite_{name}_simulated_s",
            "   simulated device time covered",
            simulated,
            "s",
            f">= {HEATER_SIMULATED_TARGET_S / 3600:g} h",
            _judge(simulated, lambda v: v >= HEATER_SIMULATED_TARGET_S),
            f"{simulated / 3600:.1f} h" if simulated is not None else "",
        ),
    ]


def _all_figures(everything: dict[str, Any]) -> list[Figure]:
    wall = everything.get("wall_s")
    covered: dict[str, float] = everything.get("covered_s", {})
    total = sum(covered.values()) if covered else None
    summary = everything.get("summary", {})
    parts = everything.get("parts", [])
    ok = everything.get("exit_status") == 0
    return [
        Figure(
            "all_wall_s",
            f"7  plain `drready run`, {len(parts) or 'all'} parts (every class and binding), wall",
            wall,
            "s",
            f"<= {ALL_WALL_TARGET_S:g} s (target {ALL_WALL_GOAL_S:g} s)",
            _judge(wall, lambda v: v <= ALL_WALL_TARGET_S) if ok else "MISS",
            everything.get("error")
            or f"{everything.get('requirements', 0)} requirements: "
            + ", ".join(f"{k} {v}" for k, v in summary.items() if v)
            + f"; exit {everything.get('exit_status')}; 2 idle cores for the target",
        ),
        Figure(
            "all_simulated_s",
            "   device time covered, all parts together",
            total,
            "s",
            f">= {ALL_SIMULATED_TARGET_S / 3600:g} h",
            _judge(total, lambda v: v >= ALL_SIMULATED_TARGET_S),
            ", ".join(f"{k} {v / 3600:.1f} h" for k, v in covered.items()),
        ),
    ]


def _part_figures(everything: dict[str, Any]) -> list[Figure]:
    """10: each part of the plain run of 7, from that run itself: wall time (spawn to exit),
    device time and CPU time in the note, then peak RSS."""
    parts: list[dict[str, Any]] = everything.get("parts", [])
    if not parts:
        return [
            Figure(
                "part_wall_s",
                "10 plain run, each part: wall time and peak RSS",
                None,
                "s",
                "-",
                "n/a",
                everything.get("error", "the combined report lists no parts"),
            )
        ]
    out: list[Figure] = []
    for index, part in enumerate(parts):
        name = part["name"]
        server = part.get("topology") == "server"
        wall, rss, covered = part.get("wall_s"), part.get("peak_rss_mb"), part.get("covered_s")
        unmeasured = "not measured: the combined report has no parts[].usage"
        note = [f"device time {covered / 3600:.1f} h" if covered is not None else "no device time"]
        if part.get("cpu_s") is not None:
            note.append(f"CPU {part['cpu_s']:.1f} s")
        note.append(str(part.get("binding") or "no binding"))
        if part.get("exit_status") != 0:
            note.append(f"exit {part.get('exit_status')}")
        ok = part.get("exit_status") == 0
        if server:
            result = _judge(wall, lambda v: v <= PART_SERVER_WALL_TARGET_S) if ok else "MISS"
        else:
            result = ("info" if ok else "MISS") if wall is not None else "n/a"
        prefix = "10" if index == 0 else "  "
        out.append(
            Figure(
                f"part_{name}_wall_s",
                f"{prefix} plain run part {name}, wall",
                wall,
                "s",
                f"<= {PART_SERVER_WALL_TARGET_S:g} s" if server else "-",
                result,
                ", ".join(note) if wall is not None else unmeasured,
            )
        )
        out.append(
            Figure(
                f"part_{name}_rss_mb",
                f"   plain run part {name}, peak RSS",
                rss,
                "MB",
                f"< {PART_RSS_TARGET_MB:g} MB",
                _judge(rss, lambda v: v < PART_RSS_TARGET_MB),
                f"{rss:.1f} MB (ru_maxrss, os.wait4)" if rss is not None else unmeasured,
            )
        )
    return out


LOAD_P99_TARGET_MS = 100.0


def run_load(seconds: float) -> dict[str, Any]:
    """benchmarks/openadr_load.py --json: the servicer and the VENs in processes of their own."""
    script = Path(__file__).resolve().parent / "openadr_load.py"
    command = [sys.executable, str(script), "--json", "--seconds", f"{seconds:g}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 240)
    except subprocess.TimeoutExpired:
        return {"error": "the load benchmark did not finish in time"}
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"error": f"no figures (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    return result


def _load_figures(load: dict[str, Any]) -> list[Figure]:
    polls = load.get("polls", {})
    p99 = polls.get("p99")
    lost = load.get("reports_lost")
    server = load.get("server", {})
    vens = load.get("vens", 0)
    return [
        Figure(
            "load_poll_p99_ms",
            f"8  OpenADR servicer, {vens} VENs polling every 1 s over TLS, poll p99",
            p99,
            "ms",
            f"< {LOAD_P99_TARGET_MS:g} ms",
            _judge(p99, lambda v: v < LOAD_P99_TARGET_MS),
            load.get("error")
            or f"p50 {polls.get('p50', 0):.2f} ms, max {polls.get('max', 0):.1f} ms, "
            f"{polls.get('measured', 0):,} polls, {polls.get('failed', 0)} failed; "
            f"{server.get('evidence_records', 0):,} evidence records kept",
        ),
        Figure(
            "load_reports_lost",
            "   reports acknowledged but not stored",
            lost,
            "",
            "0",
            _judge(lost, lambda v: v == 0),
            f"{load.get('reports_acked', 0):,} acknowledged, "
            f"{load.get('reports_stored', 0):,} stored",
        ),
    ]


FLEET_TARGET = 1000


def run_fleet(count: int, seconds: float) -> dict[str, Any]:
    """benchmarks/fleet.py --json: the fleet in its own process, measured from another."""
    script = Path(__file__).resolve().parent / "fleet.py"
    command = [sys.executable, str(script), "--json", "--count", str(count)]
    command += ["--seconds", f"{seconds:g}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
    except subprocess.TimeoutExpired:
        return {"error": "the fleet benchmark did not finish in time"}
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"error": f"no figures (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    return result


def _fleet_figures(fleet: dict[str, Any]) -> list[Figure]:
    error = fleet.get("error", "")
    answering = fleet.get("answering")
    load = fleet.get("load", {})
    return [
        Figure(
            "fleet_devices",
            "9  fleet in one process, devices answering a Get",
            answering,
            "",
            f">= {FLEET_TARGET:,}",
            _judge(answering, lambda v: v >= FLEET_TARGET),
            error
            or f"{fleet.get('count')} hosted, {fleet.get('distinct_serials')} serials, "
            f"{fleet.get('discovered')} found by one multicast Get; "
            f"started in {fleet.get('start_s', 0):.1f} s",
        ),
        Figure(
            "fleet_memory_per_device_kb",
            "   memory per device",
            fleet.get("per_device_after_load_kb"),
            "kB",
            "info",
            "info" if not error else "n/a",
            f"RSS {fleet.get('rss_after_load_mb', 0):.1f} MB minus a 1-device fleet's "
            f"{fleet.get('baseline_rss_mb', 0):.1f} MB, over the count, after the load",
        ),
        Figure(
            "fleet_get_per_s",
            "   Get round trips across the fleet",
            load.get("per_s"),
            "/s",
            "info",
            "info" if load else "n/a",
            f"window {load.get('window')}, {load.get('lost', 0)} lost" if load else "",
        ),
    ]


# -- 11. the detection matrix -------------------------------------------------------------------
MATRIX_TARGET_S = 180.0
#: Bound on the whole matrix here (its own bound is 40 minutes, for loaded machines).
MATRIX_TIMEOUT_S = 3600.0
MATRIX_TEST = "tests/plugin/test_detection_matrix.py"
MATRIX_COMMAND = ("-m", "pytest", "-q", "-p", "no:randomly", MATRIX_TEST)
#: The line the matrix's fixture prints (tests/plugin/test_detection_matrix.py, _write_times).
_MATRIX_TIMES = re.compile(
    r"detection matrix: (?P<rows>\d+) rows in (?P<wall>[\d.]+) s wall, (?P<workers>\d+) "
    r"workers; CPU (?P<cpu>[\d.]+) s"
)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
_PYTEST_SUMMARY = re.compile(r"\bin [\d.]+s\b")


def run_matrix(rows: str | None = None) -> dict[str, Any]:
    """The detection matrix as CI runs it (pytest in a subprocess), timed from spawn to exit;
    ``rows``: only the rows whose name matches (DRREADY_MATRIX_ROWS)."""
    env = dict(os.environ)
    if rows:
        env["DRREADY_MATRIX_ROWS"] = rows
    command = [sys.executable, *MATRIX_COMMAND]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=MATRIX_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the matrix did not finish within {MATRIX_TIMEOUT_S:g} s", "rows": rows}
    out: dict[str, Any] = {
        "wall_s": time.perf_counter() - start,
        "exit_status": proc.returncode,
        "rows": rows,
    }
    out.update(parse_matrix(proc.stdout))
    if "counts" not in out:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        out["error"] = "no pytest summary; last output: " + " | ".join(tail)
    return out


def parse_matrix(text: str) -> dict[str, Any]:
    """The matrix fixture's times line and pytest's closing counts, from the run's output."""
    out: dict[str, Any] = {}
    times = _MATRIX_TIMES.search(text)
    if times is not None:
        out["matrix_rows"] = int(times["rows"])
        out["rows_wall_s"] = float(times["wall"])
        out["workers"] = int(times["workers"])
        out["cpu_s"] = float(times["cpu"])
    summary = [line for line in text.splitlines() if _PYTEST_SUMMARY.search(line)]
    if summary:
        counts = {kind: int(n) for n, kind in _PYTEST_COUNT.findall(summary[-1])}
        if "error" in counts:
            counts["errors"] = counts.pop("error")
        out["counts"] = counts
    return out


def _matrix_figures(matrix: dict[str, Any] | None) -> list[Figure]:
    label = "11 detection matrix (pytest), wall"
    target = f"<= {MATRIX_TARGET_S / 60:g} min"
    if matrix is None:
        how = f"not run: add --matrix (about 10+ min; `python3 {' '.join(MATRIX_COMMAND)}`)"
        return [Figure("matrix_wall_s", label, None, "s", target, "n/a", how)]
    wall = matrix.get("wall_s")
    counts: dict[str, int] = matrix.get("counts", {})
    note: list[str] = []
    if "rows_wall_s" in matrix:
        note.append(
            f"{matrix['matrix_rows']} rows in {matrix['rows_wall_s']:.1f} s, "
            f"CPU {matrix['cpu_s']:.1f} s, {matrix['workers']} workers"
        )
    if counts:
        note.append("pytest: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    if matrix.get("rows"):
        note.append(f"ONLY the rows matching {matrix['rows']!r}")
    ok = matrix.get("exit_status") == 0 and not counts.get("failed") and not counts.get("errors")
    if matrix.get("rows"):
        result = ("info" if ok else "MISS") if wall is not None else "n/a"
    else:
        result = _judge(wall, lambda v: v <= MATRIX_TARGET_S) if ok else "MISS"
    return [
        Figure(
            "matrix_wall_s",
            label,
            wall,
            "s",
            target,
            result,
            matrix.get("error") or "; ".join(note),
        )
    ]


# -- 12. seeded starts -----------------------------------------------------------------------------
def _seeds_module() -> Any:
    """benchmarks/seeds.py, loaded from its file (benchmarks/ is not a package), as the seeds
    test loads it; it runs its sweep on the tests' warm runner anyway."""
    from tests.helpers import load_script

    return load_script(Path(__file__).resolve().parent / "seeds.py", "drready_benchmark_seeds")


def run_seeds(count: int, jobs: int | None = None) -> dict[str, Any]:
    """The golden simulators of every class and binding over seeds 1 to ``count``
    (benchmarks/seeds.py's sweep)."""
    seeds = _seeds_module()
    chosen = seeds.targets()
    start = time.perf_counter()
    runs = seeds.sweep(chosen, range(1, count + 1), jobs=jobs)
    return {
        "seeds": count,
        "targets": [target.name for target in chosen],
        "wall_s": time.perf_counter() - start,
        "runs": [asdict(run) for run in runs],
        "table": seeds.table(runs),
    }


#: How many false fails 12 names in its note.
_SHOWN_FALSE_FAILS = 3


def _seeds_figures(swept: dict[str, Any] | None) -> list[Figure]:
    label = "12 seeded starts, golden simulators: runs"
    if swept is None:
        note = "not run: add --seeds N (10 class/bindings a seed, about a minute a seed)"
        return [Figure("seeds_runs", label, None, "runs", "-", "n/a", note)]
    runs: list[dict[str, Any]] = swept.get("runs", [])
    bad = [run for run in runs if run.get("false_fails")]
    problems = [run for run in runs if run.get("problem")]
    shown = [
        f"seed {run['seed']} {run['target']}: {rid} {verdict}"
        for run in bad
        for rid, verdict, _ in run["false_fails"]
    ]
    more = len(shown) - _SHOWN_FALSE_FAILS
    note = "; ".join(shown[:_SHOWN_FALSE_FAILS]) + (f"; and {more} more" if more > 0 else "")
    if problems:
        note = f"{len(problems)} run(s) ended without a verdict; " + note
    return [
        Figure(
            "seeds_runs",
            label,
            float(len(runs)),
            "runs",
            "-",
            "info",
            f"seeds 1-{swept.get('seeds')} x {len(swept.get('targets', []))} class/bindings "
            f"in {swept.get('wall_s', 0):.0f} s wall",
        ),
        Figure(
            "seeds_false_fails",
            "   runs with a false fail (fail or inconclusive)",
            float(len(bad)),
            "runs",
            "0",
            "PASS" if not bad and not problems else "MISS",
            note.strip("; ") or "none",
        ),
    ]


def figures(
    suite: dict[str, Any],
    net: dict[str, Any],
    seconds: float,
    heaters: dict[str, dict[str, Any]] | None = None,
    everything: dict[str, Any] | None = None,
) -> list[Figure]:
    out: list[Figure] = []
    wall = suite.get("wall_s")
    simulated = suite.get("simulated_s")
    suite_note = suite.get("error", "")
    out.append(
        Figure(
            "suite_wall_s",
            "1  battery suite, wall time (virtual time, subprocess)",
            wall,
            "s",
            f"<= {SUITE_WALL_TARGET_S:g} s",
            _judge(wall, lambda v: v <= SUITE_WALL_TARGET_S),
            suite_note,
        )
    )
    out.append(
        Figure(
            "suite_simulated_s",
            "   simulated device time covered",
            simulated,
            "s",
            f">= {SUITE_SIMULATED_TARGET_S / 3600:g} h",
            _judge(simulated, lambda v: v >= SUITE_SIMULATED_TARGET_S),
            f"{simulated / 3600:.2f} h" if simulated is not None else "",
        )
    )
    if "requirements" in suite:
        out.append(
            Figure(
                "suite_requirements_passed",
                "   requirements passed",
                float(suite["passed"]),
                f"of {suite['requirements']}",
                "no fail",
                "PASS" if suite["failed"] == 0 and suite["exit_status"] == 0 else "MISS",
                ", ".join(f"{k} {v}" for k, v in suite["summary"].items() if v),
            )
        )
    for name, result in (heaters or {}).items():
        out += _heater_figures(name, result)
    gateway = net.get("gateway", {})
    echo = net.get("echo", {})
    canned = net.get("gateway_canned", {})
    py = net.get("pychonet", {})
    sizes = net.get("frame_bytes", {})
    gw_rate = gateway.get("per_s")
    echo_rate = echo.get("per_s")
    canned_rate = canned.get("per_s")
    net_error = net.get("error", "")

    def spread(result: dict[str, Any]) -> str:
        low, high = result["slice_min_per_s"], result["slice_max_per_s"]
        return f"slices {low:,.0f}-{high:,.0f} /s"

    out.append(
        Figure(
            "gateway_get_per_s",
            "2  drready gateway Get round trips, loopback UDP",
            gw_rate,
            "/s",
            "-",
            "info" if gw_rate is not None else "n/a",
            f"{gateway['round_trips']} in {seconds:g} s, {spread(gateway)}, "
            f"{gateway['evidence_records']} evidence records"
            if gw_rate is not None
            else net_error,
        )
    )
    out.append(
        Figure(
            "gateway_canned_get_per_s",
            "   same gateway, canned responder (no simulator)",
            canned_rate,
            "/s",
            "-",
            "info" if canned_rate is not None else "n/a",
            f"{spread(canned)}, {canned_rate / echo_rate * 100:.0f} % of the ceiling"
            if canned_rate and echo_rate
            else net_error,
        )
    )
    out.append(
        Figure(
            "echo_per_s",
            "3  ceiling: bare asyncio UDP echo pair",
            echo_rate,
            "/s",
            "-",
            "info" if echo_rate is not None else "n/a",
            f"{sizes['request']} B request, {sizes['reply']} B reply, {spread(echo)}"
            if echo_rate is not None
            else net_error,
        )
    )
    py_rate = py.get("per_s")
    out.append(
        Figure(
            "pychonet_get_per_s",
            "4  pychonet Get round trips, same simulator",
            py_rate,
            "/s",
            "~10 (100 ms poll)",
            "info" if py_rate is not None else "n/a",
            py.get("error", f"{py.get('round_trips', 0)} in {seconds:g} s"),
        )
    )
    ratio = net.get("ratio_median")
    rounds = net.get("ratio_per_round", [])
    out.append(
        Figure(
            "gateway_vs_ceiling",
            "5  gateway rate / ceiling (2 / 3)",
            ratio * 100 if ratio is not None else None,
            "%",
            f">= {RATIO_TARGET * 100:g} %",
            _judge(ratio, lambda v: v >= RATIO_TARGET),
            f"median of {len(rounds)} rounds ({min(rounds) * 100:.0f}-{max(rounds) * 100:.0f} %); "
            f"of the totals {gw_rate / echo_rate * 100:.0f} %"
            if rounds and gw_rate and echo_rate
            else net_error,
        )
    )
    self_rss = _rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    child_rss = suite.get("peak_rss_mb")
    out.append(
        Figure(
            "rss_benchmark_mb",
            "6  peak RSS, this benchmark process",
            self_rss,
            "MB",
            f"<= {RSS_TARGET_MB:g} MB",
            _judge(self_rss, lambda v: v <= RSS_TARGET_MB),
            "getrusage(RUSAGE_SELF).ru_maxrss",
        )
    )
    out.append(
        Figure(
            "rss_suite_mb",
            "   peak RSS, suite subprocess",
            child_rss,
            "MB",
            f"<= {RSS_TARGET_MB:g} MB",
            _judge(child_rss, lambda v: v <= RSS_TARGET_MB),
            "getrusage(RUSAGE_CHILDREN).ru_maxrss",
        )
    )
    if everything is not None:
        out += _all_figures(everything)
        out += _part_figures(everything)
    return out


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f} /s" if value >= 100 else f"{value:.1f} /s"
    if unit == "runs":
        return f"{value:,.0f} run" + ("" if value == 1 else "s")
    if unit.startswith("of "):
        return f"{value:.0f} {unit}"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def print_table(figs: list[Figure], info: dict[str, Any], seconds: float, total: float) -> None:
    print(
        f"drready benchmarks: nproc {info['nproc']} ({info['cpu']}), {info['python']}, "
        f"{info['platform']}, load average {info['loadavg_1min']} before the run"
    )
    print(f"loops run {seconds:g} s each; whole run {total:.1f} s wall")
    print()
    rows = [("figure", "value", "target", "result", "note")]
    rows += [(f.label, _fmt(f.value, f.unit), f.target, f.result, f.note) for f in figs]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1])]
        cells += [row[2].ljust(widths[2]), row[3].ljust(widths[3]), row[4]]
        print("  ".join(cells).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        metavar="N",
        help="how long each round-trip loop runs (default 3)",
    )
    parser.add_argument(
        "--load-seconds",
        type=float,
        default=30.0,
        metavar="N",
        help="measured seconds of the servicer load (default 30; 0 skips it)",
    )
    parser.add_argument(
        "--fleet-count",
        type=int,
        default=FLEET_TARGET,
        metavar="N",
        help="devices in the fleet benchmark (default 1000; 0 skips it)",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="also time the detection matrix as CI runs it (about 10+ minutes today)",
    )
    parser.add_argument(
        "--matrix-rows",
        metavar="REGEX",
        help="with --matrix: only the rows whose name matches (DRREADY_MATRIX_ROWS); not the "
        "whole matrix, so its time is not judged",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=0,
        metavar="N",
        help="also sweep the golden simulators of every class and binding over seeds 1 to N "
        "(benchmarks/seeds.py; default 0: not run)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be > 0")
    if args.seeds < 0:
        parser.error("--seeds must be >= 0")
    if args.matrix_rows and not args.matrix:
        parser.error("--matrix-rows: give it with --matrix")
    info = machine()  # first: the load average before this run adds to it
    started = time.perf_counter()
    # The suite runs first and is this process's only child, so RUSAGE_CHILDREN is its peak.
    suite = run_suite()
    heaters = {name: run_suite(name) for name in CLASSES[1:]}
    everything = run_all()
    try:
        net = asyncio.run(run_network(args.seconds))
    except OSError as exc:
        net = {"error": f"loopback UDP unavailable: {exc}"}
    figs = figures(suite, net, args.seconds, heaters, everything)
    # Last: its processes must not count in the suite's peak RSS (RUSAGE_CHILDREN) above.
    load = run_load(args.load_seconds) if args.load_seconds > 0 else {}
    if load:
        figs += _load_figures(load)
    fleet = run_fleet(args.fleet_count, args.seconds) if args.fleet_count > 0 else {}
    if fleet:
        figs += _fleet_figures(fleet)
    # The long ones last, on a machine the figures above no longer load.
    matrix = run_matrix(args.matrix_rows) if args.matrix else None
    figs += _matrix_figures(matrix)
    swept = run_seeds(args.seeds) if args.seeds > 0 else None
    figs += _seeds_figures(swept)
    total = time.perf_counter() - started
    if args.json:
        document = {
            "machine": info,
            "seconds": args.seconds,
            "wall_s": round(total, 3),
            "figures": [asdict(f) for f in figs],
            "raw": {
                "suite": suite,
                "heaters": heaters,
                "all": everything,
                "network": net,
                "load": load,
                "fleet": fleet,
                "matrix": matrix,
                "seeds": swept,
            },
        }
        print(json.dumps(document, indent=2))
    else:
        print_table(figs, info, args.seconds, total)
        if swept is not None:
            print()
            print("\n".join(swept["table"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
