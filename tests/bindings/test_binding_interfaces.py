"""The facade per device class, the capabilities bindings declare, and how the facade closes."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path

import pytest

import drready.bindings
from drready.bindings.echonet_battery import EchonetBatteryBinding
from drready.bindings.echonet_water_heater import EchonetWaterHeaterBinding
from drready.bindings.modbus_battery import ModbusBatteryBinding
from drready.bindings.openadr_device import OpenAdrBatteryBinding, OpenAdrWaterHeaterBinding
from drready.bindings.webapi_device import WebApiBatteryBinding, WebApiWaterHeaterBinding
from drready.clock import LoopRunner, VirtualClock
from drready.device import (
    BatteryDUT,
    Capabilities,
    DeviceUnderTest,
    WaterHeaterDUT,
    facade_for,
)
from drready.errors import SessionError
from drready.evidence import EvidenceLog
from drready.model import Topology
from drready.profile import default_profile

BINDINGS = (
    EchonetBatteryBinding,
    EchonetWaterHeaterBinding,
    ModbusBatteryBinding,
    OpenAdrBatteryBinding,
    OpenAdrWaterHeaterBinding,
    WebApiBatteryBinding,
    WebApiWaterHeaterBinding,
)


@pytest.mark.parametrize("binding", BINDINGS, ids=lambda b: b.__name__)
def test_server_path_capability_follows_the_topology(binding: type) -> None:
    capabilities: Capabilities = binding.capabilities
    assert capabilities.server_path == (binding.topology is Topology.SERVER)
    assert not capabilities.restart  # the facade's to say, not the binding's


def test_only_the_lan_bindings_are_echonet_lite_nodes() -> None:
    nodes = {b.__name__ for b in BINDINGS if b.capabilities.echonet_lite_node}
    assert nodes == {"EchonetBatteryBinding", "EchonetWaterHeaterBinding"}
    modes = {b.__name__ for b in BINDINGS if b.capabilities.own_direction_modes}
    assert modes == {"EchonetBatteryBinding"}


def test_no_binding_module_imports_another_that_imports_it() -> None:
    folder = Path(drready.bindings.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        imports[f"drready.bindings.{path.stem}"] = found
    for module, uses in imports.items():
        for other in uses & imports.keys():
            assert module not in imports[other], f"{module} and {other} import each other"


class _Closing:
    """The members every binding declares, with a count of close() calls."""

    protocol = "test"
    topology = Topology.GATEWAY
    capabilities = Capabilities()
    local_address = ("127.0.0.1", 3610)
    server_path = None

    def __init__(self) -> None:
        self.closed = 0

    async def communication_check(self) -> None: ...
    async def identity(self) -> None: ...
    async def appendix_release(self) -> None: ...
    async def node_version(self) -> None: ...
    def cut_comms(self) -> None: ...
    def restore_comms(self) -> None: ...

    def close(self) -> None:
        self.closed += 1


class _Battery(_Closing):
    async def request_power(self, target_w: float, duration_s: float | None) -> None: ...
    async def read_target_w(self) -> None: ...
    async def set_own_mode(self, mode: str) -> None: ...
    async def release_dr(self, own_mode: str) -> None: ...
    async def read_mode(self) -> None: ...
    async def read_ratings(self) -> None: ...
    async def status(self) -> None: ...
    async def set_backup_reserve_pct(self, pct: float) -> None: ...


class _Heater(_Closing):
    async def device_time(self) -> datetime: ...
    def start_time_step_s(self) -> float: ...
    async def request_start_time(self, tod_s: float) -> None: ...
    async def clear_start_time(self) -> None: ...
    async def planned_start(self) -> None: ...
    async def heating_mode(self) -> None: ...
    async def dr_possible_wh(self) -> None: ...
    async def heater_status(self) -> None: ...


def _open(device_class: str, binding: _Closing, tmp_path: Path) -> DeviceUnderTest:
    clock = VirtualClock()
    evidence = EvidenceLog(clock.now, tmp_path / "evidence.jsonl")
    return facade_for(LoopRunner(clock), binding, default_profile(device_class), evidence)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("device_class", "binding", "facade"),
    [("battery", _Battery, BatteryDUT), ("heatpump", _Heater, WaterHeaterDUT)],
)
def test_facade_for_gives_the_class_facade(
    device_class: str, binding: type[_Closing], facade: type, tmp_path: Path
) -> None:
    dut = _open(device_class, binding(), tmp_path)
    try:
        assert type(dut) is facade
        assert dut.local_address == ("127.0.0.1", 3610)
        assert not dut.capabilities.restart and not dut.can_restart
    finally:
        dut.close()


def test_facade_for_refuses_a_binding_without_the_class_operations(tmp_path: Path) -> None:
    clock = VirtualClock()
    runner = LoopRunner(clock)
    evidence = EvidenceLog(clock.now, tmp_path / "evidence.jsonl")
    try:
        with pytest.raises(SessionError, match="lacks the operations of a home storage battery"):
            facade_for(runner, _Heater(), default_profile("battery"), evidence)  # type: ignore[arg-type]
    finally:
        # Refused, the facade owns nothing: what the session opened is the session's to close
        # (the virtual clock's freezegun patch above all).
        evidence.close()
        runner.close()


def test_close_lets_everything_go_once(tmp_path: Path) -> None:
    binding = _Battery()
    dut = _open("battery", binding, tmp_path)
    dut.wait(60)
    dut.close()
    dut.close()
    assert binding.closed == 1
    assert dut.evidence._file is None  # the evidence file is closed
    assert (tmp_path / "evidence.jsonl").read_text(encoding="utf-8").count("\n") == 1
    with pytest.raises(RuntimeError, match="closed"):
        dut.wait(60)


def test_server_path_operations_are_not_applicable_without_one(tmp_path: Path) -> None:
    from drready.bindings.types import NotApplicable

    dut = _open("battery", _Battery(), tmp_path)
    try:
        with pytest.raises(NotApplicable, match="no server path"):
            dut.security_probe_kinds()
    finally:
        dut.close()
