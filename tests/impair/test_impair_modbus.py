"""The impaired Modbus link: the SunSpec client against a pymodbus server on the null modem, on
virtual time. A lost request never reaches the server, a lost answer comes after the server
acted, each costs one attempt's timeout, a delay holds each way, a duplicate is served twice."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.transport import NULLMODEM_HOST

from drready.clock import LoopRunner, VirtualClock
from drready.evidence import EvidenceLog, Record
from drready.impairment import EVIDENCE_KIND, Impairment, attempts_under, link_impairment
from drready.modbus.client import SunSpecClient
from drready.modbus.errors import ModbusTimeout

T = TypeVar("T")
#: Away from the simulators' null-modem ports (5020 up).
PORT = 5920
TIMEOUT_S = 1.0


@dataclass
class Bench:
    runner: LoopRunner
    evidence: EvidenceLog
    client: SunSpecClient
    server: ModbusTcpServer
    #: (function code, address) of every request the server handled.
    served: list[tuple[int, int]] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    @property
    def elapsed_s(self) -> float:
        return self.runner.clock.monotonic()

    def actions(self) -> list[str]:
        return [
            f"{r.values['action']} {r.values['direction']}"
            for r in self.impair_records()
            if r.values["action"] != "settings"
        ]

    def impair_records(self) -> list[Record]:
        return [r for r in self.evidence if r.kind == EVIDENCE_KIND]


def _open(impairment: Impairment | None, attempts: int) -> Bench:
    runner = LoopRunner(VirtualClock())
    evidence = EvidenceLog(runner.clock.now)
    served: list[tuple[int, int]] = []

    async def action(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        served.append((function_code, address))
        return None

    async def listen() -> ModbusTcpServer:
        # Made inside the loop: pymodbus takes the running loop when it is built.
        unit = SimDevice(
            1,
            simdata=SimData(0, values=list(range(100)), datatype=DataType.REGISTERS),
            action=action,
        )
        server = ModbusTcpServer(unit, address=(NULLMODEM_HOST, PORT))
        await server.serve_forever(background=True)
        return server

    server = runner.run(listen())
    client = SunSpecClient(
        NULLMODEM_HOST,
        PORT,
        evidence=evidence,
        timeout_s=TIMEOUT_S,
        attempts=attempts_under(impairment, attempts),
        impairment=link_impairment(impairment, "modbus/device"),
    )
    return Bench(runner, evidence, client, server, served)


def _close(bench: Bench) -> None:
    bench.client.close()
    bench.run(bench.server.shutdown())  # type: ignore[no-untyped-call]
    bench.runner.close()


@pytest.fixture
def opened() -> Iterator[list[Bench]]:
    """Benches opened one after another: opening one closes the one before (one virtual clock
    and one null-modem port at a time)."""
    benches: list[Bench] = []
    yield benches
    if benches:
        _close(benches[-1])


def bench_with(opened: list[Bench], impairment: Impairment | None, attempts: int = 3) -> Bench:
    if opened:
        _close(opened[-1])
    bench = _open(impairment, attempts)
    opened.append(bench)
    return bench


async def reads(client: SunSpecClient, count: int) -> list[list[int]]:
    return [await client.read_registers(10, 2) for _ in range(count)]


def test_no_impairment_is_no_link_in_between(opened: list[Bench]) -> None:
    bench = bench_with(opened, Impairment(seed=1))
    assert bench.client.impairment is None
    assert bench.run(reads(bench.client, 3)) == [[10, 11]] * 3
    assert bench.impair_records() == []


def test_lost_requests_and_answers_cost_an_attempt_each(opened: list[Bench]) -> None:
    impairment = Impairment(loss=0.3, seed=5, adapt_retries=False)
    bench = bench_with(opened, impairment, attempts=10)
    started = bench.elapsed_s
    assert bench.run(reads(bench.client, 30)) == [[10, 11]] * 30
    actions = bench.actions()
    assert actions.count("drop tx") > 0 and actions.count("drop rx") > 0
    assert set(actions) == {"drop tx", "drop rx"}
    # A lost request never reached the server; a lost answer did (the server acted).
    assert len(bench.served) == 30 + actions.count("drop rx")
    assert bench.elapsed_s - started == pytest.approx(TIMEOUT_S * len(actions))
    timed_out = [r for r in bench.evidence if r.kind == "note" and "no response" in r.summary]
    assert len(timed_out) == len(actions)


def test_a_seed_is_the_same_run_and_another_seed_another(opened: list[Bench]) -> None:
    def trace(seed: int) -> list[tuple[float, str]]:
        bench = bench_with(opened, Impairment(loss=0.2, duplicate=0.2, seed=seed))
        bench.run(reads(bench.client, 20))
        return [(r.time - bench.runner.clock.now(), r.summary) for r in bench.impair_records()]

    assert trace(8) == trace(8)
    assert trace(8) != trace(9)


def test_retries_run_out_when_every_answer_is_lost(opened: list[Bench]) -> None:
    bench = bench_with(opened, Impairment(loss=1.0, seed=1, adapt_retries=False), attempts=2)
    with pytest.raises(ModbusTimeout):
        bench.run(reads(bench.client, 1))
    assert bench.actions() == ["drop tx", "drop tx"]
    assert bench.served == []


def test_a_duplicate_is_served_twice_and_answered_once(opened: list[Bench]) -> None:
    bench = bench_with(opened, Impairment(duplicate=1.0, seed=1))
    assert bench.run(reads(bench.client, 2)) == [[10, 11]] * 2
    assert bench.served == [(3, 10)] * 4
    assert bench.actions() == ["duplicate tx", "duplicate tx"]


def test_delay_holds_each_way(
    opened: list[Bench],
) -> None:
    bench = bench_with(opened, Impairment(delay_ms=200, seed=1))
    started = bench.elapsed_s
    bench.run(reads(bench.client, 1))
    assert bench.elapsed_s - started == pytest.approx(0.4)
    assert bench.actions() == []


def test_an_answer_later_than_the_timeout_times_the_attempt_out(opened: list[Bench]) -> None:
    bench = bench_with(opened, Impairment(delay_ms=600, seed=1), attempts=2)
    with pytest.raises(ModbusTimeout):
        bench.run(reads(bench.client, 1))
    assert bench.actions() == ["delay rx", "delay rx"]
    assert len(bench.served) == 2  # the device answered both: too late


def test_settings_are_noted_with_the_attempts(opened: list[Bench]) -> None:
    bench = bench_with(opened, Impairment(loss=0.05, duplicate=0.01, seed=7))
    (settings,) = [r for r in bench.impair_records() if r.values["action"] == "settings"]
    assert settings.channel == "modbus"
    assert "loss 5%, duplicate 1%, seed 7; 6 attempts a request" in settings.summary
    bench.run(asyncio.sleep(0))
