"""The SunSpec client against real pymodbus TCP servers on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimAction, SimData, SimDevice

from drready.evidence import EvidenceLog, verify_chain
from drready.modbus.client import DiscoveredModel, SunSpecClient
from drready.modbus.errors import (
    ModbusConnectError,
    ModbusExceptionResponse,
    ModbusTimeout,
    SunSpecChainError,
    SunSpecDecodeError,
    SunSpecNotFound,
)
from drready.modbus.registers import Value, build_block
from drready.modbus.sunspec import SUNS_REGISTERS, model

pytestmark = pytest.mark.timeout(30)

COMMON: dict[str, Value | None] = {
    "Mn": "drready",
    "Md": "sim-battery",
    "Vr": "1.0",
    "SN": "SN-0001",
    "DA": 1,
}
BATTERY: dict[str, Value | None] = {
    "AHRtg": 200, "WHRtg": 9800, "WChaRteMax": 3000, "WDisChaRteMax": 3000, "SocRsvMax": 95.0,
    "SoCRsvMin": 10.0, "SoC": 55.5, "ChaSt": 4, "LocRemCtl": 0, "Hb": 17, "CtrlHb": 0,
    "AlmRst": 0, "Typ": 4, "State": 3, "Evt1": 0, "Evt2": 0, "EvtVnd1": 0, "EvtVnd2": 0,
    "V": 52.1, "CellV_SF": -3, "A": -12.5, "W": -650, "SetOp": 1, "SetInvState": 3,
    "AHRtg_SF": 0, "WHRtg_SF": 2, "WChaDisChaMax_SF": 2, "SoC_SF": -1, "V_SF": -1,
    "A_SF": -1, "AMax_SF": 0, "W_SF": 0,
}  # fmt: skip
CONTROLS: dict[str, Value | None] = {
    "WSetEna": 0, "WSetMod": 0, "WSet": 0, "WSetPct": 0.0, "WSetRvrtTms": 0,
    "WSetRvrtRem": 0, "WSet_SF": 1, "WSetPct_SF": -2,
}  # fmt: skip
METER: dict[str, Value | None] = {
    "A": 12.3, "AphA": 4.1, "AphB": 4.1, "AphC": 4.1, "A_SF": -1, "PhV": 230.1,
    "PhVphA": 230.1, "PhVphB": 230.1, "PhVphC": 230.1, "V_SF": -1, "Hz": 50.01, "Hz_SF": -2,
    "W": 2800, "WphA": 900, "WphB": 950, "WphC": 950, "W_SF": 0, "TotWhExp": 1234000,
    "TotWhImp": 98000, "TotWh_SF": 3,
}  # fmt: skip


def image() -> list[int]:
    """SunS, then models 1, 802, 704 and 203, then the end model."""
    return [
        *SUNS_REGISTERS,
        *build_block(model(1), COMMON),
        *build_block(model(802), BATTERY),
        *build_block(model(704), CONTROLS),
        *build_block(model(203), METER),
        0xFFFF,
        0,
    ]


@asynccontextmanager
async def serve(
    blocks: dict[int, Sequence[int]], action: SimAction | None = None
) -> AsyncIterator[int]:
    """A pymodbus TCP server holding ``blocks`` (address → registers); yields its port."""
    device = SimDevice(
        id=1,
        simdata=[
            SimData(address=a, values=list(r), datatype=DataType.REGISTERS)
            for a, r in sorted(blocks.items())
        ],
        action=action,
    )
    server = ModbusTcpServer(device, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    try:
        yield server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


def _log(tmp_path: Path) -> EvidenceLog:
    return EvidenceLog(time.time, tmp_path / "evidence.jsonl")


def _verify(log: EvidenceLog, tmp_path: Path) -> list[dict[str, Any]]:
    log.close()
    lines = (tmp_path / "evidence.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == len(log)
    assert verify_chain(records, log.head_digest) is None
    return records


def _sent_after_discovery(log: EvidenceLog, tmp_path: Path) -> list[str]:
    """What the client sent (verified evidence), from its discovery on."""
    records = _verify(log, tmp_path)
    discovered = next(i for i, r in enumerate(records) if r["summary"].startswith("SunSpec base"))
    return [r["summary"] for r in records[discovered:] if r["kind"] == "tx"]


@pytest.mark.parametrize("base", [40000, 0, 50000])
async def test_discover_read_and_write(base: int, tmp_path: Path) -> None:
    log = _log(tmp_path)
    async with (
        serve({base: image()}) as port,
        SunSpecClient("127.0.0.1", port, evidence=log, timeout_s=1.0) as client,
    ):
        found = await client.discover()
        assert [(m.id, m.address - base, m.length) for m in found] == [
            (1, 2, 66),
            (802, 70, 62),
            (704, 134, 65),
            (203, 201, 105),
        ]
        assert client.base == base
        assert found[1].definition is model(802)

        common = await client.read_model(1)
        assert common.values(["Mn", "Md", "Opt", "Vr", "SN", "DA"]) == {**COMMON, "Opt": None}
        battery = await client.read_model(802)
        for name, value in BATTERY.items():
            assert battery.get(name) == value, name
        assert battery.get("WHRtg") == 9800 and battery.get("DisChaRte") is None
        meter = await client.read_points(203, ["W", "Hz", "PhV", "TotWhExp", "VA"])
        assert meter == {"W": 2800, "Hz": 50.01, "PhV": 230.1, "TotWhExp": 1234000, "VA": None}

        await client.write_points(
            704, {"WSetEna": 1, "WSetMod": 1, "WSet": -1500, "WSetPct": 12.34, "WSetRvrtTms": 60}
        )
        assert await client.read_points(704, ["WSetEna", "WSetMod", "WSet", "WSetPct"]) == {
            "WSetEna": 1, "WSetMod": 1, "WSet": -1500, "WSetPct": 12.34,
        }  # fmt: skip
        controls = await client.read_model(704)
        assert controls.raw("WSet") == -150 and controls.get("WSetRvrtTms") == 60

    records = _verify(log, tmp_path)
    modbus = [r for r in records if r["channel"] == "modbus"]
    assert {r["peer"] for r in modbus} == {f"127.0.0.1:{port}"}
    sent = [r for r in modbus if r["kind"] == "tx"]
    received = [r for r in modbus if r["kind"] == "rx"]
    assert len(sent) == len(received) > 0
    summaries = [r["summary"] for r in sent]
    # The write reads model 704 for its scale factors, then writes adjacent points together:
    # WSetEna, WSetMod, WSet (offsets 22..25); WSetPct (28); WSetRvrtTms (31, 32).
    assert summaries[-6:-2] == [
        f"READ {base + 134}+67 unit 1",
        f"WRITE {base + 156} [4 regs] unit 1",
        f"WRITE {base + 162} [1 regs] unit 1",
        f"WRITE {base + 165} [2 regs] unit 1",
    ]
    if base == 40000:
        first_tx, first_rx = sent[0], received[0]
        assert first_tx["summary"] == "READ 40000+2 unit 1"
        # Modbus TCP ADUs: MBAP (TID, protocol 0, length, unit), then the PDU.
        assert first_tx["data_hex"] == "0001" + "0000" + "0006" + "01" + "03" + "9c40" + "0002"
        assert first_rx["data_hex"] == "0001" + "0000" + "0007" + "01" + "03" + "04" + "53756e53"
        assert first_rx["summary"] == "READ 40000+2 unit 1 -> 2 regs"
    else:  # 40000 (and 0 below 50000) answered ILLEGAL DATA ADDRESS before the marker
        assert "exception 0x02 ILLEGAL DATA ADDRESS" in received[0]["summary"]
    notes = [r["summary"] for r in modbus if r["kind"] == "note"]
    assert notes[0] == "CONNECT" and notes[-1] == "CLOSE"
    assert any(n.startswith(f"SunSpec base {base}: models 1@{base + 2}+66") for n in notes)


async def test_no_marker(tmp_path: Path) -> None:
    log = _log(tmp_path)
    async with (
        serve({40000: [0] * 10, 0: [0x5375, 0x6E54]}) as port,
        SunSpecClient("127.0.0.1", port, evidence=log) as client,
    ):
        with pytest.raises(SunSpecNotFound) as info:
            await client.discover()
    assert str(info.value) == f"no SunS marker at 40000, 0 or 50000 on 127.0.0.1:{port} unit 1"
    _verify(log, tmp_path)


async def test_server_that_never_answers_times_out_within_its_bound(tmp_path: Path) -> None:
    received = bytearray()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1024):
                received.extend(data)
        finally:
            writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    log = _log(tmp_path)
    try:
        async with SunSpecClient(
            "127.0.0.1", port, evidence=log, timeout_s=0.2, attempts=2
        ) as client:
            started = time.monotonic()
            with pytest.raises(ModbusTimeout) as info:
                await client.discover()
            elapsed = time.monotonic() - started
    finally:
        server.close()
        await server.wait_closed()
    assert 0.35 < elapsed < 2.0
    assert str(info.value) == (
        f"no response from 127.0.0.1:{port} unit 1 to READ 40000+2 unit 1 (address 40000) "
        "after 2 attempt(s) (timeout 0.2 s each)"
    )
    assert isinstance(info.value, TimeoutError)
    assert len(received) == 2 * 12  # two requests reached the server
    records = _verify(log, tmp_path)
    kinds = [(r["kind"], r["summary"]) for r in records]
    assert kinds[1:5] == [
        ("tx", "READ 40000+2 unit 1"),
        ("note", "no response: READ 40000+2 unit 1 (attempt 1/2, timeout 0.2 s)"),
        ("tx", "READ 40000+2 unit 1"),
        ("note", "no response: READ 40000+2 unit 1 (attempt 2/2, timeout 0.2 s)"),
    ]


async def test_exception_response_names_the_code(tmp_path: Path) -> None:
    async def refuse_writes(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_VALUE if set_values is not None else None

    log = _log(tmp_path)
    async with (
        serve({40000: image()}, refuse_writes) as port,
        SunSpecClient("127.0.0.1", port, evidence=log) as client,
    ):
        with pytest.raises(ModbusExceptionResponse) as info:
            await client.write_points(704, {"WSetEna": 1})
        assert await client.read_points(704, ["WSetEna"]) == {"WSetEna": 0}
    error = info.value
    assert (error.code, error.function_code) == (3, 0x90)
    assert str(error) == (
        f"127.0.0.1:{port} unit 1 refused WRITE 40156 [1 regs] unit 1: "
        "exception 0x03 ILLEGAL DATA VALUE (function 0x90)"
    )
    records = _verify(log, tmp_path)
    rx = [r for r in records if r["kind"] == "rx" and "WRITE" in r["summary"]]
    assert [r["summary"] for r in rx] == [
        "WRITE 40156 [1 regs] unit 1 -> exception 0x03 ILLEGAL DATA VALUE"
    ]


async def test_points_are_read_up_to_the_last_register_they_need(tmp_path: Path) -> None:
    log = _log(tmp_path)
    async with (
        serve({40000: image()}) as port,
        SunSpecClient("127.0.0.1", port, evidence=log) as client,
    ):
        assert await client.read_points(203, ["W"]) == {"W": 2800}  # W 18..19, W_SF 22
        assert await client.read_points(203, ["Hz", "TotWhExp"]) == {
            "Hz": 50.01,
            "TotWhExp": 1234000,
        }
        assert await client.read_points(802, ["SoC"]) == {"SoC": 55.5}  # SoC_SF is at 56
        with pytest.raises(SunSpecDecodeError, match="model 704 at 40134 now reads ID 704 L 65"):
            client.models = [
                DiscoveredModel(203, 40201, 105),
                DiscoveredModel(704, 40134, 64),  # L changed since discovery
            ]
            await client.read_points(704, ["WSetEna"])
    sent = _sent_after_discovery(log, tmp_path)
    assert sent == [
        "READ 40201+23 unit 1",
        "READ 40201+55 unit 1",  # TotWh_SF at 54
        "READ 40070+57 unit 1",
        "READ 40134+23 unit 1",
    ]


async def test_unscaled_points_are_written_without_reading_the_model(tmp_path: Path) -> None:
    log = _log(tmp_path)
    async with (
        serve({40000: image()}) as port,
        SunSpecClient("127.0.0.1", port, evidence=log) as client,
    ):
        await client.discover()
        await client.write_points(802, {"CtrlHb": 7})  # a heartbeat: no scale factor
        await client.write_points(704, {"WSetEna": 1, "WSet": -1500})  # WSet needs WSet_SF
        assert await client.read_points(802, ["CtrlHb"]) == {"CtrlHb": 7}
        assert (await client.read_model(704)).raw("WSet") == -150
    sent = _sent_after_discovery(log, tmp_path)
    assert sent[:4] == [
        "WRITE 40089 [1 regs] unit 1",
        "READ 40134+67 unit 1",
        "WRITE 40156 [1 regs] unit 1",
        "WRITE 40158 [2 regs] unit 1",
    ]


async def test_model_not_on_device_and_read_only_point(tmp_path: Path) -> None:
    log = _log(tmp_path)
    async with (
        serve({40000: image()}) as port,
        SunSpecClient("127.0.0.1", port, evidence=log) as client,
    ):
        with pytest.raises(SunSpecNotFound, match=r"has no SunSpec model 124 \(models: 1, 802"):
            await client.read_model(124)
        with pytest.raises(ValueError, match="model 802 point SoC is read-only"):
            await client.write_points(802, {"SoC": 50})
    _verify(log, tmp_path)


def _chain(*models: tuple[int, int], end: tuple[int, int] = (0xFFFF, 0)) -> list[int]:
    registers = list(SUNS_REGISTERS)
    for model_id, length in models:
        registers += [model_id, length] + [0] * length
    return [*registers, *end]


@pytest.mark.parametrize(
    ("registers", "limit", "message"),
    [
        (_chain((1, 66), (64900, 3), (64901, 3)), 2, "more than 2 models, no end model by 50075"),
        (_chain((1, 66), end=(0xFFFF, 4)), 64, "end model at 50070 has L 4, not 0"),
        (_chain((1, 66), end=(0, 0)), 64, "model ID 0 at 50070"),
        (
            _chain((1, 66), end=(64902, 20000)),
            64,
            "model 64902 at 50070 with L 20000 does not fit the register space",
        ),
    ],
)
async def test_malformed_chains_are_refused(
    registers: list[int], limit: int, message: str, tmp_path: Path
) -> None:
    log = _log(tmp_path)
    async with (
        serve({50000: registers}) as port,
        SunSpecClient("127.0.0.1", port, evidence=log, max_models=limit) as client,
    ):
        with pytest.raises(SunSpecChainError) as info:
            await client.discover()
    assert str(info.value) == f"127.0.0.1:{port} unit 1: {message}"
    _verify(log, tmp_path)


async def test_connect_refused_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = _log(tmp_path)
    client = SunSpecClient("127.0.0.1", port, evidence=log, timeout_s=0.5)
    try:
        with pytest.raises(ModbusConnectError) as info:
            await client.connect()
    finally:
        client.close()
    assert str(info.value) == f"cannot connect to 127.0.0.1:{port} within 0.5 s"
    records = _verify(log, tmp_path)
    assert [r["summary"] for r in records] == ["CONNECT failed (0.5 s)"]


async def test_late_answer_is_logged_as_unexpected(tmp_path: Path) -> None:
    """The first request is answered after the client gave up on it: the retry succeeds, and the
    late answer still goes to the evidence log, marked as unexpected."""
    tasks: list[asyncio.Task[None]] = []

    async def answer(writer: asyncio.StreamWriter, request: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        pdu = bytes([3, 4]) + bytes.fromhex("53756e53")
        writer.write(request[0:4] + (len(pdu) + 1).to_bytes(2, "big") + request[6:7] + pdu)
        await writer.drain()

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        delay = 0.3
        try:
            while request := await reader.readexactly(12):
                tasks.append(asyncio.create_task(answer(writer, request, delay)))
                delay = 0.0
        except asyncio.IncompleteReadError:
            pass
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()

    server = await asyncio.start_server(slow_first, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    log = _log(tmp_path)
    try:
        async with SunSpecClient(
            "127.0.0.1", port, evidence=log, timeout_s=0.2, attempts=3
        ) as client:
            assert await client.read_registers(40000, 2) == list(SUNS_REGISTERS)
            await asyncio.sleep(0.3)  # the late answer arrives meanwhile
    finally:
        server.close()
        await server.wait_closed()
    records = _verify(log, tmp_path)
    assert [(r["kind"], r["summary"]) for r in records] == [
        ("note", "CONNECT"),
        ("tx", "READ 40000+2 unit 1"),
        ("note", "no response: READ 40000+2 unit 1 (attempt 1/3, timeout 0.2 s)"),
        ("tx", "READ 40000+2 unit 1"),
        ("rx", "READ 40000+2 unit 1 -> 2 regs"),
        ("rx", "unexpected TID 1 unit 1 function 0x03"),
        ("note", "CLOSE"),
    ]
    assert records[5]["data_hex"] == "0001000000070103" + "0453756e53"
