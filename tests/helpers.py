"""Helpers shared by the harness's own tests (not fixtures)."""

from __future__ import annotations

import copy
import importlib.util
import secrets
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from drready.report.combined import PartResult
from drready.report.json_report import write_report

#: Every battery requirement a gateway-topology run exercises; a conforming device passes each.
GATEWAY_BATTERY_REQUIREMENTS = (
    "BAT-1.1",
    "BAT-2.1",
    "BAT-2.2",
    "BAT-2.3",
    "BAT-2.4",
    "BAT-2.5",
    "BAT-2.6",
    "BAT-2.7",
    "BAT-ID",
    "BAT-3.3",
)
#: The same for every class: what a gateway-topology run of the class exercises.
GATEWAY_REQUIREMENTS = {
    "battery": GATEWAY_BATTERY_REQUIREMENTS,
    **{
        cls: tuple(f"{prefix}-{n}" for n in ("1.1", "2.1", "2.2", "2.3", "2.4", "ID", "3.3"))
        for cls, prefix in (("heatpump", "HP"), ("hybrid", "HY"))
    },
}

#: How long a simulator process may take to bind and say where.
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class SimulatorProcess:
    port: int
    banner: str
    process: subprocess.Popen[str]


@contextmanager
def simulator_process(
    host: str, options: Sequence[str] = (), device_class: str = "battery"
) -> Iterator[SimulatorProcess]:
    """Run ``drready simulate CLASS --bind HOST:0 [options]`` until the block ends.

    On exit a process still running gets Ctrl-C (SIGINT), and is killed if it has not stopped
    within 10 s.
    """
    command = [sys.executable, "-m", "drready.cli", "simulate", device_class, "--bind", f"{host}:0"]
    with announced([*command, *options], "the simulator") as (process, banner):
        assert f"udp://{host}:" in banner, banner
        port = int(banner.split(f"udp://{host}:")[1].split()[0])
        yield SimulatorProcess(port, banner, process)


@contextmanager
def announced(command: Sequence[str], name: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``command`` with its output piped and yield it with the first line it prints (its
    banner), which must come within START_TIMEOUT_S. On exit a process still running gets
    Ctrl-C (SIGINT), and is killed if it has not stopped within 10 s."""
    process = subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=START_TIMEOUT_S)
        assert ready, f"{name} printed nothing within {START_TIMEOUT_S} s"
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


@contextmanager
def reaped(command: Sequence[str]) -> Iterator[subprocess.Popen[str]]:
    """Start ``command`` with its output piped; a process still running when the block ends (a
    failed assertion, a timeout) is killed and waited for, so no test leaves one behind."""
    process = subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def loopback_hosts(count: int, port: int = 3610) -> tuple[str, ...]:
    """``count`` distinct addresses 127.x.y.z (x from 100), each with UDP ``port`` free now.

    The harness binds the ECHONET Lite port as a controller does; tests that do so on their own
    random loopback addresses do not meet another run's sockets on 127.0.0.1. Chosen with
    ``secrets``, not ``random``, which pytest-randomly seeds alike in parallel runs.
    """
    from drready.echonet.transport import udp_port_problem

    hosts: list[str] = []
    for _ in range(100 * count):
        host = (
            f"127.{100 + secrets.randbelow(155)}.{secrets.randbelow(256)}"
            f".{1 + secrets.randbelow(254)}"
        )
        if host not in hosts and udp_port_problem(host, port) is None:
            hosts.append(host)
            if len(hosts) == count:
                return tuple(hosts)
    raise RuntimeError(f"no free loopback address for UDP port {port}")


def drready_run(
    profile: Path, report_dir: Path, *options: str, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """``drready run --profile PROFILE --report-dir REPORT_DIR [options]``, its output captured,
    bounded by ``timeout_s``."""
    command = [sys.executable, "-m", "drready.cli", "run", "--profile", str(profile)]
    return subprocess.run(
        [*command, "--report-dir", str(report_dir), *options],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def drready_run_ok(report_dir: Path, *args: str, timeout_s: float = 240.0) -> Path:
    """``drready run --report-dir REPORT_DIR [args]``, which must exit 0 (its output's tail in
    the assertion otherwise); the run directory."""
    result = subprocess.run(
        [sys.executable, "-m", "drready.cli", "run", "--report-dir", str(report_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return report_dir


def json_paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from json_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from json_paths(value, (*path, index))


def mutants(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with one value replaced by one of another type, or one key removed."""
    for path in list(json_paths(document))[1:]:
        for value in (None, 3, -1.5, "x", [], {}, True):
            mutant = copy.deepcopy(document)
            parent = mutant
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
            yield mutant
        if isinstance(path[-1], str):
            mutant = copy.deepcopy(document)
            parent = mutant
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
            yield mutant


def load_script(path: Path, name: str) -> ModuleType:
    """A script that is not a package module (``benchmarks/run.py``) imported as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def battery_identity(serial: str, number: str, product: str = "DRR-BAT-SIM") -> dict[str, Any]:
    """The identity a battery part's report holds (maker code FFFFFF, the simulator's)."""
    return {
        "identification_number": number,
        "manufacturer_code": "FFFFFF",
        "product_code": product,
        "serial_number": serial,
    }


def battery_part_report(
    run_dir: Path,
    name: str,
    identity: dict[str, Any],
    requirements: list[dict[str, Any]],
    *,
    binding: str | None = None,
    unit: str = "",
) -> PartResult:
    """A part's report on disk, as a battery's own run writes it (trimmed to what counts): its
    ``requirements``, ``identity`` and, given, the ``binding`` its profile declares."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "harness": {"name": "drready", "version": "0"},
        "run_id": f"r-{name}",
        "complete": True,
        "exit_status": 0,
        "started_at": "2027-04-01T00:00:00+00:00",
        "device_class": "battery",
        "simulated": True,
        **(
            {}
            if binding is None
            else {"profile": {"device": {"class": "battery", "binding": binding}}}
        ),
        "device": {"identity": identity},
        "requirements": requirements,
        "summary": {"pass": 2, "fail": 0, "not-applicable": 0, "not-tested": 0, "declared": 0},
    }
    write_report(run_dir / name / "report.json", document)
    return PartResult("battery", f"r-{name}", 0, None, name, unit)
