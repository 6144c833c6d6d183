#!/usr/bin/env python3
"""A fleet of simulated ECHONET Lite devices in one process: how many, how much memory, how fast.

    python3 benchmarks/fleet.py [--count 1000] [--class battery] [--bind 127.0.1.0/22:3610]
                                [--seconds 5] [--window 64] [--json]

Starts ``drready simulate CLASS --count N --bind BLOCK`` as a child process (after a one-device
baseline on the block's first address), then, from this process over loopback UDP:

- devices hosted: the count the banner gives, and how many distinct devices answered a Get of their
  serial number 0x8D (three tries each) with distinct serials;
- multicast discovery: how many answered one Get of the node profile's instance list (0xD6) sent to
  224.0.23.0 (the requester's receive buffer raised to what the system allows);
- memory per device: resident set of the fleet process minus the one-device baseline's, over N,
  after start and again after the load;
- Get round trips per second across the fleet: ``--window`` requests in flight, each a Get of 0xE2
  and 0xD3 (battery; 0x80 and 0x8D for the water heaters) to the next device in turn, for
  ``--seconds``; a reply counts when it comes from the device asked with the request's TID and is a
  Get_Res; no reply within 1 s counts as lost.

Figures, never assertions: exit status 0 unless the fleet could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `drready` from this checkout

from drready.echonet.codec import (  # noqa: E402
    CONTROLLER,
    EOJ,
    ESV,
    MULTICAST_GROUP,
    NODE_PROFILE,
    Frame,
    Property,
    decode,
)

CLIENT_HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
REPLY_TIMEOUT_S = 1.0
DEVICE_EOJ = {
    "battery": EOJ(0x02, 0x7D, 0x01),
    "heatpump": EOJ(0x02, 0x6B, 0x01),
    "hybrid": EOJ(0x02, 0xA6, 0x01),
}
LOAD_EPCS = {"battery": (0xE2, 0xD3), "heatpump": (0x80, 0x8D), "hybrid": (0x80, 0x8D)}
EPC_SERIAL = 0x8D
EPC_INSTANCE_LIST = 0xD6
GET_RES = int(ESV.GET_RES)


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class FleetProcess:
    """``drready simulate CLASS --count N --bind BLOCK``, up once its banner is out."""

    def __init__(self, device_class: str, count: int, bind: str) -> None:
        command = [sys.executable, "-m", "drready.cli", "simulate", device_class]
        command += ["--count", str(count), "--bind", bind]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=START_TIMEOUT_S)
        self.banner = self.process.stdout.readline().strip() if ready else ""
        self.start_s = time.perf_counter() - self.started
        if not self.banner:
            self.stop()
            error = self.process.stderr.read().strip() if self.process.stderr else ""
            raise RuntimeError(f"the fleet did not start: {error or 'no banner'}")

    def rss(self) -> int:
        return _rss_bytes(self.process.pid)

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, (out + err).strip()


class _Client(asyncio.DatagramProtocol):
    """Matches replies to requests by (device address, TID); the rest goes to ``overheard``."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, int], asyncio.Future[bytes]] = {}
        self.overheard: list[tuple[bytes, str]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        key = (str(addr[0]), int.from_bytes(data[2:4], "big"))
        waiter = self.waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(data)
        else:
            self.overheard.append((data, str(addr[0])))


class Requester:
    def __init__(self, transport: asyncio.DatagramTransport, client: _Client, port: int) -> None:
        self.transport = transport
        self.client = client
        self.port = port
        self._tid = 0

    def request(self, host: str, deoj: EOJ, epcs: tuple[int, ...]) -> asyncio.Future[bytes]:
        self._tid = (self._tid + 1) & 0xFFFF
        frame = Frame(self._tid, CONTROLLER, deoj, ESV.GET, tuple(Property(e) for e in epcs))
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.client.waiting[(host, self._tid)] = waiter
        self.transport.sendto(frame.encode(), (host, self.port))
        return waiter

    async def ask(self, host: str, deoj: EOJ, epcs: tuple[int, ...]) -> bytes | None:
        waiter = self.request(host, deoj, epcs)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                return await waiter
        except TimeoutError:
            for key, pending in list(self.client.waiting.items()):
                if pending is waiter:
                    del self.client.waiting[key]
            return None


async def _open(port: int) -> Requester:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # As large as the system allows: a multicast Get brings one answer per device.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(CLIENT_HOST))
    sock.bind((CLIENT_HOST, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Client, sock=sock)
    return Requester(transport, client, port)


async def sweep(requester: Requester, hosts: list[str], deoj: EOJ, window: int) -> dict[str, str]:
    """Each device's serial (0x8D), three tries each, ``window`` devices at a time."""
    serials: dict[str, str] = {}
    queue = list(reversed(hosts))

    async def worker() -> None:
        while queue:
            host = queue.pop()
            for _ in range(3):
                data = await requester.ask(host, deoj, (EPC_SERIAL,))
                if data is None:
                    continue
                frame = decode(data)
                if isinstance(frame, Frame) and frame.esv is ESV.GET_RES:
                    serials[host] = frame.properties[0].edt.decode("ascii").strip()
                break

    await asyncio.gather(*(worker() for _ in range(window)))
    return serials


async def discover(requester: Requester, hosts: set[str], wait_s: float = 3.0) -> int:
    """How many fleet devices answer one multicast Get of 0xD6 within ``wait_s``."""
    requester.client.overheard.clear()
    frame = Frame(0xFFFE, CONTROLLER, NODE_PROFILE, ESV.GET, (Property(EPC_INSTANCE_LIST),))
    requester.transport.sendto(frame.encode(), (MULTICAST_GROUP, requester.port))
    heard: set[str] = set()
    deadline = time.perf_counter() + wait_s
    while time.perf_counter() < deadline and len(heard) < len(hosts):
        await asyncio.sleep(0.05)
        heard |= {host for data, host in requester.client.overheard if host in hosts}
    return len(heard)


async def load(
    requester: Requester, hosts: list[str], deoj: EOJ, epcs: tuple[int, ...], window: int, s: float
) -> dict[str, Any]:
    answered = lost = refused = 0
    turn = 0
    deadline = time.perf_counter() + s

    async def worker() -> None:
        nonlocal answered, lost, refused, turn
        while time.perf_counter() < deadline:
            host = hosts[turn % len(hosts)]
            turn += 1
            data = await requester.ask(host, deoj, epcs)
            if data is None:
                lost += 1
            elif data[10] == GET_RES:
                answered += 1
            else:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    elapsed = time.perf_counter() - started
    return {
        "per_s": answered / elapsed,
        "answered": answered,
        "lost": lost,
        "refused": refused,
        "seconds": elapsed,
        "window": window,
    }


def parse_block(bind: str, count: int) -> tuple[list[str], int]:
    block, _, port = bind.partition(":")
    first = ipaddress.IPv4Address(block.partition("/")[0])
    return [str(first + k) for k in range(count)], int(port or 3610)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    hosts, port = parse_block(args.bind, args.count)
    first = hosts[0]
    baseline = FleetProcess(args.device_class, 1, f"{first}/32:{port}")
    try:
        baseline_rss = baseline.rss()
    finally:
        baseline.stop()
    fleet = FleetProcess(args.device_class, args.count, args.bind)
    out: dict[str, Any] = {
        "count": args.count,
        "device_class": args.device_class,
        "bind": args.bind,
        "banner": fleet.banner,
        "start_s": fleet.start_s,
        "baseline_rss_mb": baseline_rss / 1e6,
    }
    try:
        rss_started = fleet.rss()
        out["rss_mb"] = rss_started / 1e6
        out["per_device_kb"] = (rss_started - baseline_rss) / max(args.count - 1, 1) / 1e3
        deoj = DEVICE_EOJ[args.device_class]
        requester = await _open(port)
        try:
            serials = await sweep(requester, hosts, deoj, args.window)
            out["answering"] = len(serials)
            out["distinct_serials"] = len(set(serials.values()))
            out["discovered"] = await discover(requester, set(hosts))
            out["load"] = await load(
                requester, hosts, deoj, LOAD_EPCS[args.device_class], args.window, args.seconds
            )
        finally:
            requester.transport.close()
        rss_loaded = fleet.rss()
        out["rss_after_load_mb"] = rss_loaded / 1e6
        out["per_device_after_load_kb"] = (rss_loaded - baseline_rss) / max(args.count - 1, 1) / 1e3
    finally:
        status, tail = fleet.stop()
        out["exit_status"] = status
        out["last_words"] = tail.splitlines()[-1] if tail else ""
    return out


def print_figures(out: dict[str, Any]) -> None:
    n = out["count"]
    loaded = out["load"]
    print(f"drready fleet benchmark: nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"  {out['banner']}")
    rows = [
        ("devices hosted (banner)", f"{n}"),
        (
            "devices answering a Get of 0x8D",
            f"{out['answering']} ({out['distinct_serials']} serials)",
        ),
        ("devices answering one multicast Get", f"{out['discovered']}"),
        ("start, spawn to banner", f"{out['start_s']:.1f} s"),
        ("RSS, 1 device / fleet", f"{out['baseline_rss_mb']:.1f} MB / {out['rss_mb']:.1f} MB"),
        ("memory per device, after start", f"{out['per_device_kb']:.1f} kB"),
        ("memory per device, after the load", f"{out['per_device_after_load_kb']:.1f} kB"),
        (
            f"Get round trips/s across the fleet (window {loaded['window']})",
            f"{loaded['per_s']:,.0f} /s ({loaded['answered']:,} in {loaded['seconds']:.1f} s, "
            f"{loaded['lost']} lost, {loaded['refused']} refused)",
        ),
        ("fleet exit status", f"{out['exit_status']} ({out['last_words']})"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--class", dest="device_class", choices=sorted(DEVICE_EOJ), default="battery"
    )
    parser.add_argument(
        "--bind", default="127.0.1.0/22:3610", help="the fleet's block (default %(default)s)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="the load's length")
    parser.add_argument("--window", type=int, default=64, help="requests in flight")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        out = asyncio.run(measure(args))
    except RuntimeError as exc:
        print(f"benchmarks/fleet.py: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print_figures(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
