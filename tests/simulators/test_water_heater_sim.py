"""Tests for the reference water-heater simulators on an in-memory network, in virtual time: their
ECHONET Lite surface, DR semantics as the harness reads them, announcements, and each named
fault's effect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, time

import pytest
from drready.simulators import link_faults
from drready.simulators.faults import FAULTS
from drready.simulators.water_heater import CLASS_CODES, WaterHeaterConfig, eoj_for
from drready.simulators.water_heater_model import HOUR_S, tod
from drready.simulators.water_heater_runtime import SimulatedWaterHeater

from drready.clock import LoopRunner, VirtualClock
from drready.echonet.codec import (
    ECHONET_LITE_PORT,
    EOJ,
    ESV,
    MULTICAST_GROUP,
    NODE_PROFILE,
    Frame,
    Property,
)
from drready.echonet.errors import RemoteError
from drready.echonet.gateway import Gateway
from drready.echonet.mapping import EpcMapping
from drready.echonet.node import EPC_INSTANCE_LIST_NOTIFICATION
from drready.echonet.properties import ClassDef, load_class
from drready.echonet.transport import DatagramHandler, MemoryEndpoint, MemoryNetwork
from drready.evidence import EvidenceLog

SIM_ADDRESS = ("192.0.2.30", ECHONET_LITE_PORT)
GATEWAY_ADDRESS = ("192.0.2.1", ECHONET_LITE_PORT)
RATED_W = {"heatpump": 1300, "hybrid": 900}


@dataclass
class Rig:
    device_class: str
    runner: LoopRunner
    gateway: Gateway
    simulator: SimulatedWaterHeater
    classdef: ClassDef = field(init=False)
    eoj: EOJ = field(init=False)

    def __post_init__(self) -> None:
        self.classdef = load_class(CLASS_CODES[self.device_class])
        self.eoj = eoj_for(self.device_class)

    # -- talking to the device ---------------------------------------------------------------
    def raw(self, *epcs: int) -> dict[int, bytes]:
        return self.runner.run(self.gateway.get(SIM_ADDRESS, self.eoj, epcs))

    def value(self, epc: int) -> object:
        """One property, decoded as the MRA defines it (maker EPCs as unsigned integers)."""
        edt = self.raw(epc)[epc]
        if epc in self.classdef.properties:
            return self.classdef.properties[epc].decode(edt)
        return int.from_bytes(edt, "big")

    def set_c(self, *props: tuple[int, bytes]) -> Frame:
        request = [Property(epc, edt) for epc, edt in props]
        return self.runner.run(self.gateway.set_c(SIM_ADDRESS, self.eoj, request))

    def request(self, hour: float) -> bool:
        """The DR request the harness sends: True if accepted."""
        try:
            if self.device_class == "heatpump":
                self.set_c((0xC7, b"\x01"), (0xCA, bytes((int(hour),))))
            else:
                self.set_c((0xF1, round(hour * 60).to_bytes(2, "big")))
        except RemoteError:
            return False
        return True

    def planned_hour(self) -> float | None:
        if self.device_class == "heatpump":
            raw = self.raw(0xCA)[0xCA][0]
            return None if raw == 0 else float(raw)
        minutes = int.from_bytes(self.raw(0xF1)[0xF1], "big")
        return None if minutes == 0xFFFF else minutes / 60

    def power_w(self) -> int:
        value = self.value(0x84)
        assert isinstance(value, int)
        return value

    def heating(self) -> bool:
        return self.value(0xB2) == "true"

    def restart(self) -> None:
        async def restart() -> None:
            self.simulator.restart()  # inside the loop: the restarted node announces itself

        self.runner.run(restart())

    # -- time ----------------------------------------------------------------------------------
    def local_hour(self) -> float:
        return tod(self.simulator.now(), 9 * HOUR_S) / HOUR_S

    def wait_until(self, hour: float) -> None:
        """Let the device run until local ``hour`` today (the run starts at 09:00)."""
        delay = (hour - self.local_hour()) * HOUR_S
        assert delay >= 0, f"{hour} h is past"
        self.runner.sleep(delay)

    def first_heating_minute(self, until_hour: float = 15) -> float | None:
        """Poll 0xB2 once a minute, as a suite would; the local hour heating was first seen."""
        while self.local_hour() < until_hour:
            if self.heating():
                return round(self.local_hour() * 60) / 60
            self.runner.sleep(60)
        return None

    def notifications(self) -> list[dict[int, bytes]]:
        self.raw(0x80)  # a barrier: everything sent before it has arrived
        return [
            {p.epc: p.edt for p in frame.properties}
            for _, frame in self.gateway.notifications
            if frame.seoj == self.eoj and frame.esv == ESV.INF
        ]


def _rig(
    device_class: str,
    faults: tuple[str, ...] = (),
    config: WaterHeaterConfig | None = None,
    time_scale: float = 1.0,
) -> Iterator[Rig]:
    runner = LoopRunner(VirtualClock())  # the wall clock reads 2027-04-01 00:00 UTC (09:00 JST)
    network = MemoryNetwork()
    gateway = Gateway(EvidenceLog(runner.clock.now), timeout_s=1.0, retries=0)
    gateway.attach(network.endpoint(gateway.datagram_received, *GATEWAY_ADDRESS))

    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        return network.endpoint(handler, *SIM_ADDRESS)

    simulator = SimulatedWaterHeater(
        open_endpoint,
        config or WaterHeaterConfig.for_class(device_class),
        faults,
        time_scale=time_scale,
    )
    runner.run(simulator.start())
    try:
        yield Rig(device_class, runner, gateway, simulator)
        simulator.check()
    finally:
        simulator.close()
        gateway.close()
        runner.close()


@pytest.fixture(params=["heatpump", "hybrid"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    yield from _rig(request.param)


@pytest.fixture
def heatpump() -> Iterator[Rig]:
    yield from _rig("heatpump")


@pytest.fixture
def hybrid() -> Iterator[Rig]:
    yield from _rig("hybrid")


# --------------------------------------------------------------------------- the surface


def test_discovery_finds_the_node_and_its_class(rig: Rig) -> None:
    nodes = rig.runner.run(rig.gateway.discover((MULTICAST_GROUP, ECHONET_LITE_PORT), 1.0))
    assert [(n.address, n.instances) for n in nodes] == [(SIM_ADDRESS, (rig.eoj,))]
    node = rig.runner.run(rig.gateway.get(SIM_ADDRESS, NODE_PROFILE, [0xD7, 0x83]))
    assert node[0xD7] == b"\x01" + CLASS_CODES[rig.device_class].to_bytes(2, "big")
    assert node[0x83] == rig.raw(0x83)[0x83]
    # The node announced its instances when it started.
    assert any(
        frame.property(EPC_INSTANCE_LIST_NOTIFICATION) is not None
        for _, frame in rig.gateway.notifications
    )


def test_required_properties_are_served_and_decode(rig: Rig) -> None:
    maps = rig.runner.run(rig.gateway.read_property_maps(SIM_ADDRESS, rig.eoj))
    assert rig.classdef.required_get() <= maps.get
    assert rig.classdef.required_set() <= maps.set
    assert maps.set <= maps.get and maps.announce <= maps.get
    # Changes of every served property the MRA wants announced are announced.
    assert rig.classdef.required_inf() & maps.get <= maps.announce
    for epc in sorted(maps.get):
        edt = rig.raw(epc)[epc]  # every EPC in the Get map is served...
        if epc in rig.classdef.properties:
            rig.classdef.properties[epc].decode(edt)  # ...and decodes with the MRA


def test_identity_and_clock(rig: Rig) -> None:
    assert rig.value(0x80) == "true"
    assert rig.raw(0x82)[0x82] == b"\x00\x00R\x00"
    assert rig.raw(0x83)[0x83][:4] == b"\xfe\xff\xff\xff"
    assert rig.raw(0x8A)[0x8A] == b"\xff\xff\xff"
    assert rig.raw(0x8D)[0x8D].strip() == rig.simulator.config.serial_number.encode()
    assert rig.value(0x97) == time(9, 0)  # device-local time, UTC+9
    assert rig.value(0x98) == date(2027, 4, 1)
    rig.runner.sleep(15.5 * HOUR_S)
    assert (rig.value(0x97), rig.value(0x98)) == (time(0, 30), date(2027, 4, 2))
    assert rig.value(0xE2) == rig.simulator.config.tank_litres
    remaining = rig.value(0xE1)
    assert isinstance(remaining, int) and 0 < remaining <= rig.simulator.config.tank_litres


def test_settings_are_kept(rig: Rig) -> None:
    rig.set_c((0x81, b"\x08"), (0xB0, b"\x42"))
    assert rig.raw(0x81, 0xB0) == {0x81: b"\x08", 0xB0: b"\x42"}
    with pytest.raises(RemoteError):
        rig.set_c((0xB0, b"\x50"))
    assert rig.value(0xB0) == "manualHeating"


def test_heatpump_energy_shift_figures(heatpump: Rig) -> None:
    assert heatpump.value(0xCB) == {"at1000": 3600, "at1300": 3600, "at1500": 3600, "at1700": 0}
    assert heatpump.value(0xCC) == {"at1000": 1300, "at1300": 1300, "at1500": 1300, "at1700": 0}
    assert heatpump.value(0xC8) == 23  # night heating starts at 23:00
    assert heatpump.value(0xC9) == 1
    assert (heatpump.value(0xC7), heatpump.value(0xCA), heatpump.value(0xCD)) == (
        "false",
        "cleared",
        "cleared",
    )
    assert heatpump.value(0xC0) == "true"


def test_hybrid_dr_possible_follows_the_start_time(hybrid: Rig) -> None:
    assert hybrid.value(0xF2) == 1560  # no plan: for the evaluation start, 13:00
    assert hybrid.request(16.5)
    assert hybrid.value(0xF2) == 1350  # 1.5 h before 18:00 at 900 W
    assert hybrid.request(10)
    assert hybrid.value(0xF2) == 1560
    assert hybrid.value(0xF3) == 0


# --------------------------------------------------------------------------- DR


@pytest.mark.parametrize(("inside", "outside"), [(13, 16), (15, 9)])
def test_heatpump_request_accepted_in_window_refused_outside(
    heatpump: Rig, inside: int, outside: int
) -> None:
    assert heatpump.request(inside)
    assert (heatpump.planned_hour(), heatpump.value(0xC7)) == (inside, "true")
    with pytest.raises(RemoteError) as refused:
        heatpump.set_c((0xC7, b"\x01"), (0xCA, bytes((outside,))))
    assert refused.value.esv == ESV.SETC_SNA
    assert 0xCA in refused.value.refused_epcs
    assert heatpump.planned_hour() == inside  # nothing applied


def test_refused_request_applies_nothing(heatpump: Rig) -> None:
    with pytest.raises(RemoteError):
        heatpump.set_c((0xC7, b"\x01"), (0xCA, b"\x11"))  # 17:00: outside 10:00-15:00
    assert heatpump.value(0xC7) == "false"
    with pytest.raises(RemoteError):
        heatpump.set_c((0xC7, b"\x01"), (0xCA, b"\x0d"), (0xE2, b"\x00\x10"))  # 0xE2 is Get-only
    assert (heatpump.value(0xC7), heatpump.planned_hour()) == ("false", None)
    with pytest.raises(RemoteError):
        heatpump.set_c((0xCA, b"\x0d"))  # a shift time without participation
    assert heatpump.planned_hour() is None


def test_hybrid_request_accepted_in_window_refused_outside(hybrid: Rig) -> None:
    assert hybrid.request(16.5)  # the window's last start time, inclusive
    assert hybrid.planned_hour() == 16.5
    assert not hybrid.request(16.75)
    assert not hybrid.request(8.5)
    assert hybrid.planned_hour() == 16.5
    hybrid.set_c((0xF1, b"\xff\xff"))  # "no plan" cancels
    assert hybrid.planned_hour() is None


def test_heating_starts_at_the_start_time_and_not_before(rig: Rig) -> None:
    assert rig.request(13)
    assert rig.first_heating_minute() == 13.0
    assert rig.power_w() == RATED_W[rig.device_class]
    # The plan and (heat pump) the participation cleared at 13:00.
    assert rig.planned_hour() is None
    if rig.device_class == "heatpump":
        assert rig.value(0xC7) == "false"
    amount_wh = 3600 if rig.device_class == "heatpump" else 1560
    rig.wait_until(18)
    assert not rig.heating() and rig.power_w() == 0
    energy = rig.value(0x85)
    assert isinstance(energy, float)
    assert energy * 1000 == pytest.approx(amount_wh, abs=1)


def test_power_changes_at_the_right_minute(heatpump: Rig) -> None:
    heatpump.request(13)
    readings = []
    heatpump.wait_until(12.5)
    for _ in range(5 * 60):  # 12:30-17:30, once a minute
        readings.append((round(heatpump.local_hour() * 60), heatpump.power_w()))
        heatpump.runner.sleep(60)
    on = [minute for minute, power in readings if power == 1300]
    assert all(power in (0, 1300) for _, power in readings)
    # 3600 Wh at 1300 W: 2 h 46 min 9 s from 13:00.
    assert (on[0], on[-1]) == (13 * 60, 15 * 60 + 46)
    assert len(on) == on[-1] - on[0] + 1


def test_heating_changes_are_announced(rig: Rig) -> None:
    rig.request(13)
    rig.wait_until(12.99)
    before = [n for n in rig.notifications() if 0xB2 in n]
    assert before == []
    rig.wait_until(13.0)
    started = [n for n in rig.notifications() if 0xB2 in n]
    assert started[-1][0xB2] == b"\x41"
    rated = RATED_W[rig.device_class]
    assert started[-1][0x84] == rated.to_bytes(2, "big")
    rig.wait_until(17)
    stopped = [n for n in rig.notifications() if 0xB2 in n]
    assert stopped[-1][0xB2] == b"\x42"
    assert stopped[-1][0x84] == b"\x00\x00"
    # Draw-offs are announced as hot water supply changes (0xC3).
    assert any(n.get(0xC3) == b"\x41" for n in rig.notifications())


def test_no_daytime_heating_without_dr_and_night_heating_after(heatpump: Rig) -> None:
    heatpump.wait_until(9.01)
    assert heatpump.first_heating_minute(until_hour=22.99) is None
    heatpump.wait_until(23.01)
    assert heatpump.heating()


def test_restart_keeps_identity_and_plan(rig: Rig) -> None:
    rig.request(13)
    before = rig.raw(0x83, 0x8D)
    announced = len(rig.gateway.notifications)
    rig.restart()
    assert rig.raw(0x83, 0x8D) == before
    assert rig.planned_hour() == 13
    assert len(rig.gateway.notifications) > announced


def test_device_clock_runs_time_scale_times_faster() -> None:
    for rig in _rig("heatpump", time_scale=60):
        rig.runner.sleep(60)
        assert rig.value(0x97) == time(10, 0)
        rig.request(13)
        rig.runner.sleep(3 * 60 + 1)  # three device hours
        assert rig.heating()


def test_a_maker_mapping_moves_the_items() -> None:
    config = WaterHeaterConfig.for_class("heatpump")
    config.mapping = {
        "dr_start_time_s": EpcMapping(epc=0xF5, size=2, scale=60),
        "planned_start_time_s": EpcMapping(epc=0xF6, size=2, scale=60),
        "dr_possible_wh": EpcMapping(epc=0xF7, size=4),
    }
    for rig in _rig("heatpump", config=config):
        rig.set_c((0xC7, b"\x01"), (0xF5, (13 * 60).to_bytes(2, "big")))
        assert rig.value(0xF6) == 13 * 60
        assert rig.value(0xCA) == "at1300"  # the standard shift time follows the plan
        assert rig.value(0xF7) == 3600
        with pytest.raises(RemoteError):
            rig.set_c((0xC7, b"\x01"), (0xF5, (16 * 60).to_bytes(2, "big")))


def test_a_fault_of_another_class_is_refused() -> None:
    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        raise AssertionError("never opened")

    with pytest.raises(ValueError, match="hybrid fault"):
        SimulatedWaterHeater(open_endpoint, WaterHeaterConfig(), ["hy_heats_early"])


# --------------------------------------------------------------------------- faults

Probe = Callable[[Rig], object]


def _share_at_13(rig: Rig) -> object:
    if rig.device_class == "heatpump":
        table = rig.value(0xCB)
        assert isinstance(table, dict)
        return table["at1300"]
    return rig.value(0xF2)


def _accepts(hour: float) -> Probe:
    return lambda rig: rig.request(hour)


def _first_heating(rig: Rig) -> object:
    rig.request(13)
    return rig.first_heating_minute()


def _plan_read_back(rig: Rig) -> object:
    rig.request(13)
    return rig.planned_hour()


def _power_at(hour: float, request: bool) -> Probe:
    def probe(rig: Rig) -> object:
        if request:
            rig.request(13)
        rig.wait_until(hour)
        return rig.power_w()

    return probe


def _identity_survives_restart(rig: Rig) -> object:
    before = rig.raw(0x83, 0x8D)
    rig.restart()
    return rig.raw(0x83, 0x8D) == before


def _get_map_all_served(rig: Rig) -> object:
    maps = rig.runner.run(rig.gateway.read_property_maps(SIM_ADDRESS, rig.eoj))
    try:
        for epc in maps.get:
            rig.raw(epc)
    except RemoteError:
        return False
    return True


def _release(rig: Rig) -> object:
    return chr(rig.raw(0x82)[0x82][2])


def _possible_at_1630(rig: Rig) -> object:
    rig.request(16.5)
    return rig.value(0xF2)


def _dr_heating_source(rig: Rig) -> object:
    rig.request(13)
    rig.wait_until(13.5)
    return rig.power_w(), rig.value(0xF3)


def _counter_holds_at_dr_start(rig: Rig) -> object:
    # A first shift puts energy on the counter; the second one's start is watched.
    rig.request(10)
    rig.wait_until(12.8)
    rig.request(13)
    rig.wait_until(12.9)
    before = rig.value(0x85)
    rig.wait_until(13.1)
    after = rig.value(0x85)
    assert isinstance(before, float) and isinstance(after, float)
    return after >= before


#: fault -> (class, probe, what the conforming simulator gives, what the faulty one gives)
SYMPTOMS: dict[str, tuple[str, Probe, object, object]] = {
    "hp_dr_share_below_half": ("heatpump", _share_at_13, 3600, 2400),
    "hp_dr_share_unpublished": ("heatpump", _share_at_13, 3600, 3120),
    "hp_accepts_outside_window": ("heatpump", _accepts(16), False, True),
    "hp_refuses_window_end": ("heatpump", _accepts(15), True, False),
    "hp_ignores_start_time": ("heatpump", _first_heating, 13.0, 10.0),
    "hp_heats_early": ("heatpump", _first_heating, 13.0, 12.0),
    "hp_plan_not_reported": ("heatpump", _plan_read_back, 13.0, None),
    "hp_power_stuck": ("heatpump", _power_at(13.5, True), 1300, 0),
    "hp_idle_power_high": ("heatpump", _power_at(10, False), 0, 400),
    "hp_identity_unstable": ("heatpump", _identity_survives_restart, True, False),
    "hp_get_map_unserved": ("heatpump", _get_map_all_served, True, False),
    "hp_wrong_release": ("heatpump", _release, "R", "J"),
    "hy_dr_share_below_half": ("hybrid", _share_at_13, 1560, 1040),
    "hy_dr_share_unpublished": ("hybrid", _share_at_13, 1560, 1352),
    "hy_dr_possible_ignores_start": ("hybrid", _possible_at_1630, 1350, 1560),
    "hy_accepts_outside_window": ("hybrid", _accepts(17), False, True),
    "hy_ignores_start_time": ("hybrid", _first_heating, 13.0, 9.0),
    "hy_heats_early": ("hybrid", _first_heating, 13.0, 12.0),
    "hy_aux_replaces_heat_pump": ("hybrid", _dr_heating_source, (900, 0), (0, 1)),
    "hy_power_stuck": ("hybrid", _power_at(13.5, True), 900, 0),
    "hy_idle_power_high": ("hybrid", _power_at(10, False), 0, 400),
    "hy_identity_unstable": ("hybrid", _identity_survives_restart, True, False),
    "hy_get_map_unserved": ("hybrid", _get_map_all_served, True, False),
    "hy_wrong_release": ("hybrid", _release, "R", "J"),
    # drready.simulators.water_heater_behaviour_faults
    "hp_power_constant_while_heating": ("heatpump", _power_at(13.5, True), 1300, 8),
    "hy_power_constant_while_heating": ("hybrid", _power_at(13.5, True), 900, 8),
    "hp_energy_counter_restarts_at_dr": ("heatpump", _counter_holds_at_dr_start, True, False),
    "hy_energy_counter_restarts_at_dr": ("hybrid", _counter_holds_at_dr_start, True, False),
}


def test_every_water_heater_fault_has_a_symptom() -> None:
    names = {
        f.name
        for f in FAULTS.values()
        if f.device_class in ("heatpump", "hybrid")
        and f.binding == "echonet"
        # The link faults bend the wire, not the device: tests/simulators/test_link_faults.py.
        and f.apply.__module__ != link_faults.__name__
    }
    assert set(SYMPTOMS) == names
    for name, (device_class, *_) in SYMPTOMS.items():
        assert FAULTS[name].device_class == device_class


@pytest.mark.parametrize("name", sorted(SYMPTOMS))
def test_fault_changes_the_behaviour_it_names(name: str) -> None:
    device_class, probe, golden, faulty = SYMPTOMS[name]
    for faults, expected in (((), golden), ((name,), faulty)):
        for rig in _rig(device_class, faults):
            assert probe(rig) == expected, f"faults={faults}"


def test_ignores_start_time_still_reports_the_plan() -> None:
    for rig in _rig("heatpump", ("hp_ignores_start_time",)):
        assert rig.request(13)
        rig.wait_until(10.5)
        assert rig.heating() and rig.planned_hour() == 13


def test_power_stuck_still_reports_heating() -> None:
    for rig in _rig("hybrid", ("hy_power_stuck",)):
        rig.request(13)
        rig.wait_until(13.5)
        assert rig.heating() and rig.power_w() == 0


def test_all_faults_of_a_class_compose() -> None:
    for device_class in ("heatpump", "hybrid"):
        names = tuple(
            f.name
            for f in FAULTS.values()
            if f.device_class == device_class and f.binding == "echonet"
        )
        for rig in _rig(device_class, names):
            rig.request(13)
            rig.wait_until(14)
            assert rig.value(0x80) == "true"
