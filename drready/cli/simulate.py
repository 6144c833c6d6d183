"""``drready simulate`` and ``drready faults``: the reference devices and servicer on their own."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import datetime

from drready.cli.fleet import Fleet, FleetBind, fleet_specs, parse_fleet_bind, raise_open_file_limit
from drready.cli.fleet import banner as fleet_banner
from drready.echonet.transport import DatagramEndpoint, DatagramHandler, open_udp_endpoint
from drready.errors import UsageError
from drready.model import DeviceClass
from drready.simulation import DeviceSpec, UnknownFaultError, backend, faults, get_fault


def _parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--bind: expected HOST:PORT such as 127.0.0.1:3610, got {text!r}")
    return host, int(port)


def _spec(args: argparse.Namespace) -> DeviceSpec:
    device_class = DeviceClass(args.device_class)
    if device_class is DeviceClass.BATTERY:
        timeout = 1800.0 if args.comms_loss_timeout is None else args.comms_loss_timeout
        return DeviceSpec(
            device_class,
            faults=tuple(args.fault),
            comms_loss_timeout_s=timeout,
            time_scale=args.time_scale,
        )
    start = None if args.clock is None else datetime.fromisoformat(args.clock)
    return DeviceSpec(
        device_class,
        faults=tuple(args.fault),
        time_scale=args.time_scale,
        start_local_time=start,
    )


def _cmd_simulate_servicer(args: argparse.Namespace) -> int:
    import secrets as token_source

    from drready.openadr.standalone import parse_dispatch, serve

    host, port = _parse_bind(args.bind or "127.0.0.1:8443")
    for option in ("fault", "comms_loss_timeout", "clock"):
        if getattr(args, option):
            raise UsageError(f"--{option.replace('_', '-')}: not an option of the servicer")
    if args.time_scale != 1.0:
        raise UsageError("--time-scale: not an option of the servicer (it runs in real time)")
    try:
        dispatches = [parse_dispatch(text) for text in args.dispatch]
    except ValueError as exc:
        raise UsageError(f"--dispatch: {exc}") from None
    secret = args.client_secret or token_source.token_urlsafe(18)
    if not args.client_secret:
        print(f"drready simulate servicer: client secret {secret}", flush=True)

    async def main() -> dict[str, int]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await serve(
                host,
                port,
                tls=not args.plain_http,
                client_id=args.client_id,
                client_secret=secret,
                cert_dir=args.cert_dir,
                evidence_path=args.evidence,
                dispatches=dispatches,
                stop=stop,
                say=lambda line: print(f"drready simulate servicer: {line}", flush=True),
            )
        except OSError as exc:
            raise UsageError(f"--bind {host}:{port}: {exc.strerror or exc}") from None

    counts = asyncio.run(main())
    print(
        "drready simulate servicer: stopped; "
        + ", ".join(f"{value} {name}" for name, value in counts.items()),
        flush=True,
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.device_class == "servicer":
        if args.count is not None:
            raise UsageError("--count: not an option of the servicer (it is one server)")
        return _cmd_simulate_servicer(args)
    fleet_bind = None if args.count is None else parse_fleet_bind(args.bind, args.count)
    host, port = ("", 0) if fleet_bind else _parse_bind(args.bind or "127.0.0.1:3610")
    if not args.time_scale >= 1:
        raise UsageError(f"--time-scale: expected a number >= 1, got {args.time_scale}")
    if args.clock is not None:
        if args.device_class == DeviceClass.BATTERY:
            raise UsageError("--clock: only the water-heater simulators keep a local clock")
        try:
            when = datetime.fromisoformat(args.clock)
        except ValueError:
            when = None
        if when is None or when.tzinfo is not None:
            raise UsageError(
                f"--clock: expected a local date and time like 2027-04-01T07:30, got {args.clock!r}"
            )
    if args.comms_loss_timeout is not None and args.device_class != DeviceClass.BATTERY:
        raise UsageError(
            f"--comms-loss-timeout: only the battery simulator has one, not the {args.device_class}"
        )
    for name in args.fault:
        try:
            fault = get_fault(name)
        except UnknownFaultError as exc:
            raise UsageError(f"--fault: {exc}") from None
        if fault.device_class != args.device_class:
            raise UsageError(f"--fault {name}: a {fault.device_class} fault")

    if fleet_bind is not None:
        return _serve_fleet(args, fleet_bind)

    async def serve() -> None:
        async def endpoint(handler: DatagramHandler) -> DatagramEndpoint:
            return await open_udp_endpoint(handler, host, port)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            sim = backend().echonet_device(_spec(args), endpoint)
            await sim.start()
        except OSError as exc:
            raise UsageError(f"--bind {host}:{port}: {exc.strerror or exc}") from None
        bound = sim.address
        speed = f", clock {args.time_scale:g}x real time" if args.time_scale != 1 else ""
        print(
            f"drready simulate {args.device_class}: ECHONET Lite node on "
            f"udp://{bound[0]}:{bound[1]} (faults: {', '.join(args.fault) or 'none'}{speed}); "
            "Ctrl-C stops",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            sim.close()
        sim.check()
        print("drready simulate: stopped", flush=True)

    asyncio.run(serve())
    return 0


def _serve_fleet(args: argparse.Namespace, bind: FleetBind) -> int:
    raise_open_file_limit(bind.count)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        fleet = Fleet(bind, fleet_specs(_spec(args)))
        try:
            await fleet.start()
        except OSError as exc:
            raise UsageError(f"--bind {args.bind or bind.host(0)}: {exc.strerror or exc}") from None
        speed = f", clock {args.time_scale:g}x real time" if args.time_scale != 1 else ""
        print(fleet_banner(args.device_class, bind, args.fault, speed), flush=True)
        try:
            await stop.wait()
        finally:
            fleet.close()
        fleet.check()
        print(
            f"drready simulate: stopped ({fleet.multicast_requests} multicast requests)", flush=True
        )

    asyncio.run(serve())
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    chosen = [f for f in faults().values() if args.device_class in (None, f.device_class)]
    if args.json:
        print(json.dumps([f.to_json() for f in chosen], ensure_ascii=False, indent=2))
        return 0
    for f in chosen:
        print(f"{f.name:<34} {f.device_class:<9} {','.join(f.requirements):<18} {f.description}")
    return 0
