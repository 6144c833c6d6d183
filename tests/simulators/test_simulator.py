"""Tests for the reference battery simulator: its physics, its DR logic through the DUT facade,
its runtime on a memory network, and the named faults that bend it."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from drready.simulators import link_faults
from drready.simulators.battery import BATTERY_EOJ, BatteryConfig
from drready.simulators.battery_model import MAX_STEP_S, BatteryModel, BatteryParams
from drready.simulators.faults import FAULTS, Fault, UnknownFaultError, faults_for, get_fault
from drready.simulators.runtime import SimulatedBattery, SimulatorError
from hypothesis import given, settings
from hypothesis import strategies as st

from drready.catalog import CATALOG, DeviceClass
from drready.cli import main as cli_main
from drready.clock import LoopRunner, VirtualClock
from drready.device import DeviceUnderTest
from drready.echonet.codec import ECHONET_LITE_PORT, ESV, Frame
from drready.echonet.errors import EchonetTimeout
from drready.echonet.gateway import Gateway
from drready.echonet.node import EPC_INSTANCE_LIST_NOTIFICATION
from drready.echonet.transport import DatagramHandler, MemoryEndpoint, MemoryNetwork
from drready.evidence import EvidenceLog
from drready.profile import default_profile
from drready.run.session import open_dut

#: The ECHONET Lite battery simulator's faults (the SunSpec one's have binding "modbus").
BATTERY_FAULTS = {f.name: f for f in faults_for("battery") if f.binding == "echonet"}

# --------------------------------------------------------------------------- the model


def _ramp_energy_ws(target_w: float, ramp_w_per_s: float, duration_s: float) -> float:
    """Exact integral of a ramp from 0 W to ``target_w``, then flat, over ``duration_s``."""
    ramp_s = abs(target_w) / ramp_w_per_s
    if duration_s <= ramp_s:
        return ramp_w_per_s * duration_s**2 / 2
    return abs(target_w) * ramp_s / 2 + abs(target_w) * (duration_s - ramp_s)


@pytest.mark.parametrize(
    ("first_w", "second_w", "ramp_w_per_s"),
    [
        (0.0, 1000.0, 100.0),
        (0.0, -3000.0, 100.0),
        (2000.0, -1000.0, 100.0),  # through zero: |Δ| = 3000 W
        (-500.0, 1500.0, 50.0),
        (0.0, 10.0, 0.5),  # the slow_ramp fault's rate
    ],
)
def test_model_ramp_reaches_the_set_point_after_delta_over_ramp(
    first_w: float, second_w: float, ramp_w_per_s: float
) -> None:
    params = BatteryParams(ramp_w_per_s=ramp_w_per_s)
    model = BatteryModel(params, now=0.0)
    model.setpoint_w = first_w
    model.advance(abs(first_w) / ramp_w_per_s)
    assert model.power_w == pytest.approx(first_w)
    model.setpoint_w = second_w
    start = model.time
    ramp_s = abs(second_w - first_w) / ramp_w_per_s
    model.advance(start + ramp_s / 2)
    assert model.power_w == pytest.approx((first_w + second_w) / 2)
    model.advance(start + ramp_s - 0.5)
    assert model.power_w != pytest.approx(second_w)
    model.advance(start + ramp_s)
    assert model.power_w == pytest.approx(second_w)
    model.advance(start + ramp_s + 100)
    assert model.power_w == second_w


@pytest.mark.parametrize(
    ("target_w", "duration_s"),
    [(1000.0, 3600.0), (-2000.0, 1800.0), (3000.0, 20.0), (500.0, 5.0)],
)
def test_model_energy_counters_equal_the_integral(target_w: float, duration_s: float) -> None:
    # Targets that are whole multiples of the ramp step: the trapezoid rule is then exact.
    model = BatteryModel(BatteryParams(), now=0.0)
    soc_start = model.soc_wh
    model.setpoint_w = target_w
    model.advance(duration_s)
    expected_wh = _ramp_energy_ws(target_w, 100.0, duration_s) / 3600
    counted = model.charged_wh if target_w > 0 else model.discharged_wh
    idle = model.discharged_wh if target_w > 0 else model.charged_wh
    assert counted == pytest.approx(expected_wh, abs=1e-9)
    assert idle == 0
    assert model.soc_wh - soc_start == pytest.approx(model.charged_wh - model.discharged_wh)


def test_model_energy_within_a_watt_second_when_the_ramp_ends_mid_step() -> None:
    model = BatteryModel(BatteryParams(), now=0.0)
    model.setpoint_w = 1050.0  # reached after 10.5 s, half-way through a step
    model.advance(100.0)
    exact_ws = _ramp_energy_ws(1050.0, 100.0, 100.0)
    assert abs(model.charged_wh * 3600 - exact_ws) <= 1.0


def test_model_stops_at_full_and_at_the_floor() -> None:
    params = BatteryParams(capacity_wh=1000.0, initial_soc_pct=50.0, reserve_pct=20.0)
    model = BatteryModel(params, now=0.0)
    model.setpoint_w = 3000.0
    model.advance(3600.0)
    assert model.soc_wh == params.capacity_wh
    assert model.power_w == 0.0
    assert model.charged_wh == pytest.approx(500.0)
    model.setpoint_w = -3000.0
    model.advance(2 * 3600.0)
    assert model.soc_wh == model.floor_wh == 200.0
    assert model.soc_pct == 20.0
    assert model.power_w == 0.0  # the floor opens the contactor: no power reported
    assert model.discharged_wh == pytest.approx(800.0)
    model.advance(3 * 3600.0)  # the set point still asks for discharge: nothing moves
    assert (model.soc_wh, model.power_w) == (200.0, 0.0)
    model.setpoint_w = 100.0  # charging from the floor works again
    model.advance(3 * 3600.0 + 10)
    assert model.power_w == 100.0
    assert model.soc_wh > 200.0


def test_model_floor_zero_discharges_to_empty() -> None:
    model = BatteryModel(BatteryParams(capacity_wh=100.0), now=0.0)
    model.floor_pct = 0.0
    model.setpoint_w = -3000.0
    model.advance(3600.0)
    assert model.soc_wh == 0.0
    assert model.power_w == 0.0


@settings(max_examples=60, deadline=None)
@given(
    initial_soc_pct=st.floats(20, 100),
    steps=st.lists(
        st.tuples(st.floats(-4000, 4000), st.floats(0.1, 900)),
        min_size=1,
        max_size=6,
    ),
)
def test_model_invariants(initial_soc_pct: float, steps: list[tuple[float, float]]) -> None:
    params = BatteryParams(capacity_wh=2000.0, initial_soc_pct=initial_soc_pct)
    model = BatteryModel(params, now=0.0)
    soc_start = model.soc_wh
    now = 0.0
    for setpoint_w, duration_s in steps:
        before_power = model.power_w
        before_charged, before_discharged = model.charged_wh, model.discharged_wh
        model.setpoint_w = setpoint_w
        now += duration_s
        model.advance(now)
        assert model.time == pytest.approx(now)
        assert model.floor_wh - 1e-6 <= model.soc_wh <= params.capacity_wh + 1e-6
        # Power moves towards the set point and never overshoots it (or starts from 0 at a limit).
        low, high = sorted((before_power, setpoint_w))
        assert min(low, 0.0) - 1e-6 <= model.power_w <= max(high, 0.0) + 1e-6
        if model.power_w != 0.0:
            # Ramp-limited, except that hitting full or the floor cuts the flow to 0 at once
            # (the contactor opens) and the power ramps again from 0.
            ramp_w = params.ramp_w_per_s * duration_s + 1e-6
            assert abs(model.power_w - before_power) <= ramp_w or abs(model.power_w) <= ramp_w
        # Counters never go back.
        assert model.charged_wh >= before_charged
        assert model.discharged_wh >= before_discharged
    # Energy is conserved: what the counters say went in and out is what the SoC shows.
    assert model.soc_wh - soc_start == pytest.approx(
        model.charged_wh - model.discharged_wh, abs=1e-6
    )


def test_model_never_reads_a_clock() -> None:
    model = BatteryModel(BatteryParams(), now=1000.0)
    model.setpoint_w = 1000.0
    model.advance(999.0)  # the past: nothing happens
    assert (model.time, model.power_w) == (1000.0, 0.0)
    model.advance(1000.0 + MAX_STEP_S / 4)
    assert model.power_w == pytest.approx(25.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity_wh": 0},
        {"max_charge_w": -1},
        {"max_discharge_w": 0},
        {"initial_soc_pct": 101},
        {"reserve_pct": -1},
        {"ramp_w_per_s": 0},
    ],
)
def test_battery_params_reject_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BatteryParams(**kwargs)


# --------------------------------------------------------------------------- through the facade


def _open(faults: tuple[str, ...] = ()) -> DeviceUnderTest:
    return open_dut(default_profile("battery"), faults=faults)


@pytest.fixture
def dut() -> Iterator[DeviceUnderTest]:
    device = _open()
    yield device
    device.close()


def _simulator(dut: DeviceUnderTest) -> SimulatedBattery:
    assert isinstance(dut.simulator, SimulatedBattery)
    return dut.simulator


def test_dut_ramp_through_the_facade(dut: DeviceUnderTest) -> None:
    assert dut.request_power(1000).accepted
    dut.wait(5)
    assert dut.status().power_w == 500
    dut.wait(5)
    status = dut.status()
    assert (status.power_w, status.mode, status.actual_mode) == (1000, "charging", "charging")


def test_dut_energy_counters_follow_the_integral(dut: DeviceUnderTest) -> None:
    dut.request_power(-2000)
    dut.wait(1500)  # below the comms-loss timeout, which would end the DR
    status = dut.status()
    expected_wh = _ramp_energy_ws(-2000.0, 100.0, 1500.0) / 3600
    # 0xA9 counts whole Wh (0.001 kWh), floored: never ahead of the energy that flowed.
    assert expected_wh - 1 < status.discharged_wh <= expected_wh
    assert status.charged_wh == 0
    assert status.soc_pct == round(50 - 100 * expected_wh / 9800)


@pytest.mark.parametrize("pre_mode", ["auto", "standby"])
def test_dr_with_duration_ends_by_itself_and_restores_the_mode(
    dut: DeviceUnderTest, pre_mode: str
) -> None:
    dut.set_own_mode(pre_mode)
    assert dut.request_power(-1500, 600).accepted
    dut.wait(599)
    assert dut.read_mode() == "discharging"
    assert dut.status().power_w == -1500
    dut.wait(2)
    assert dut.read_mode() == pre_mode
    dut.wait(60)
    # Ramped to what the own mode does: standby rests, auto follows the household's surplus.
    own_w = _simulator(dut).device.model.setpoint_w if pre_mode == "auto" else 0.0
    assert dut.status().power_w == round(own_w)


@pytest.mark.parametrize(
    ("silent_s", "mode_after"), [(1790, "discharging"), (1810, "auto")], ids=["before", "after"]
)
def test_comms_loss_during_dr_restores_own_mode(
    dut: DeviceUnderTest, silent_s: float, mode_after: str
) -> None:
    dut.request_power(-1000, None)
    with dut.comms_cut():
        dut.wait(silent_s)
    assert dut.read_mode() == mode_after
    lost = [line for line in _simulator(dut).device.log if "comms lost" in line]
    assert len(lost) == (mode_after == "auto")


def test_contact_keeps_dr_alive(dut: DeviceUnderTest) -> None:
    dut.request_power(-1000, None)
    for _ in range(3):  # 3 x 1200 s > comms-loss timeout, but the harness keeps talking
        dut.wait(1200)
        assert dut.read_mode() == "discharging"


def test_user_mode_write_ends_dr(dut: DeviceUnderTest) -> None:
    dut.request_power(-1500, 3600)
    dut.set_own_mode("standby")
    assert dut.read_mode() == "standby"
    dut.wait(4000)  # past the DR's end: nothing brings the old mode back
    assert dut.read_mode() == "standby"
    assert dut.status().power_w == 0
    assert any("ended by a mode change" in line for line in _simulator(dut).device.log)


@pytest.mark.parametrize(("target_w", "rated_w"), [(5000, 3000), (-4500, -3000)])
def test_target_above_rating_is_clamped(
    dut: DeviceUnderTest, target_w: float, rated_w: float
) -> None:
    assert dut.request_power(target_w).accepted
    dut.wait(120)
    assert dut.status().power_w == rated_w


def test_zero_watt_charging_request_reads_back_as_charging(dut: DeviceUnderTest) -> None:
    assert dut.request_power(0, 600).accepted
    assert dut.read_mode() == "charging"


def test_restart_keeps_identity_and_drops_dr(dut: DeviceUnderTest) -> None:
    gateway = dut.binding.gateway  # type: ignore[attr-defined]

    def announcements() -> int:
        # Instance list notifications (0xD5), multicast by the node when it starts.
        return sum(
            1
            for _, frame in gateway.notifications
            if frame.esv == ESV.INF and frame.property(EPC_INSTANCE_LIST_NOTIFICATION)
        )

    before = dut.identity()
    assert before.serial_number == "SIM0000001"
    announced = announcements()
    dut.request_power(-1000, 3600)
    dut.restart()
    assert dut.identity() == before
    assert dut.read_mode() == "auto"
    assert announcements() == announced + 1


def test_dut_close_is_idempotent() -> None:
    device = _open()
    device.close()
    device.close()
    assert device.runner.loop.is_closed()


# --------------------------------------------------------------------------- the runtime


@dataclass
class Rig:
    runner: LoopRunner
    network: MemoryNetwork
    gateway: Gateway
    simulator: SimulatedBattery


SIM_ADDRESS = ("192.0.2.20", ECHONET_LITE_PORT)


@pytest.fixture
def rig() -> Iterator[Rig]:
    runner = LoopRunner(VirtualClock(freeze_wall_clock=False))
    network = MemoryNetwork()
    gateway = Gateway(EvidenceLog(runner.clock.now), timeout_s=1.0, retries=0)
    gateway.attach(network.endpoint(gateway.datagram_received, "192.0.2.1", ECHONET_LITE_PORT))

    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        return network.endpoint(handler, *SIM_ADDRESS)

    simulator = SimulatedBattery(open_endpoint, BatteryConfig())
    runner.run(simulator.start())
    yield Rig(runner, network, gateway, simulator)
    simulator.close()
    gateway.close()
    runner.close()


def test_simulator_announces_its_instances_on_start(rig: Rig) -> None:
    rig.runner.run(rig.gateway.get(SIM_ADDRESS, BATTERY_EOJ, [0x80]))  # a barrier
    notifications = list(rig.gateway.notifications)
    assert len(notifications) == 1
    source, frame = notifications[0]
    assert source == SIM_ADDRESS
    assert frame.esv == ESV.INF
    assert frame.property(EPC_INSTANCE_LIST_NOTIFICATION) is not None


def test_check_reraises_errors_from_the_receive_path(rig: Rig) -> None:
    rig.simulator.check()  # nothing went wrong yet

    def explode(frame: Frame) -> Frame | None:
        raise ValueError(f"filter broke on TID {frame.tid}")

    rig.simulator.response_filters.append(explode)
    with pytest.raises(EchonetTimeout):  # the reply never left the simulator
        rig.runner.run(rig.gateway.get(SIM_ADDRESS, BATTERY_EOJ, [0x80]))
    with pytest.raises(SimulatorError, match="filter broke") as caught:
        rig.simulator.check()
    assert isinstance(caught.value.__cause__, ValueError)


def test_facade_surfaces_simulator_errors(dut: DeviceUnderTest) -> None:
    def explode(frame: Frame) -> Frame | None:
        raise ValueError("boom")

    _simulator(dut).response_filters.append(explode)
    with pytest.raises(SimulatorError, match="boom"):
        dut.read_mode()


def test_simulator_close_is_idempotent(rig: Rig) -> None:
    rig.simulator.close()
    rig.simulator.close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = rig.simulator.address


def test_closed_simulator_stops_its_timers(rig: Rig) -> None:
    from drready.echonet.codec import Property

    request = [Property(0xF0, (600).to_bytes(4, "big")), Property(0xEC, b"\x00\x00\x03\xe8")]
    request.append(Property(0xDA, b"\x43"))
    rig.runner.run(rig.gateway.set_c(SIM_ADDRESS, BATTERY_EOJ, request))
    device = rig.simulator.device
    assert device.dr is not None
    rig.simulator.close()
    rig.runner.sleep(1000)
    assert device.dr is not None  # the duration timer was cancelled with the simulator
    rig.simulator.check()


async def test_simulator_as_async_context_manager() -> None:
    network = MemoryNetwork()

    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        return network.endpoint(handler, *SIM_ADDRESS)

    async with SimulatedBattery(open_endpoint) as simulator:
        assert simulator.address == SIM_ADDRESS
    with pytest.raises(RuntimeError, match="not running"):
        _ = simulator.address
    # The address is free again.
    network.endpoint(lambda data, source: None, *SIM_ADDRESS).close()


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_fault_metadata_is_in_the_catalog(fault: Fault) -> None:
    data = fault.to_json()
    expected: dict[str, object] = {
        "name": fault.name,
        "device_class": fault.device_class,
        "requirements": list(fault.requirements),
        "description": fault.description,
    }
    if fault.binding != "echonet":
        expected["binding"] = fault.binding
    if fault.units > 1:
        expected["units"] = fault.units
    assert data == expected
    assert data["device_class"] in set(DeviceClass)
    device_class = DeviceClass(fault.device_class)
    assert fault.requirements
    for requirement in fault.requirements:
        assert requirement in CATALOG, f"{fault.name} names unknown requirement {requirement}"
        assert CATALOG[requirement].device_class == device_class
    assert fault.description.strip()
    assert get_fault(fault.name) is fault


def test_faults_json_cli_lists_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["faults", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [fault.to_json() for fault in FAULTS.values()]


def test_unknown_fault_names_the_known_ones() -> None:
    with pytest.raises(UnknownFaultError, match=r"unknown fault 'nope' \(known: .*slow_ramp"):
        get_fault("nope")


@pytest.mark.parametrize("fault", BATTERY_FAULTS.values(), ids=BATTERY_FAULTS.keys())
def test_fault_applies_to_a_fresh_simulator(fault: Fault) -> None:
    runner = LoopRunner(VirtualClock(freeze_wall_clock=False))
    network = MemoryNetwork()

    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        return network.endpoint(handler, *SIM_ADDRESS)

    simulator = SimulatedBattery(open_endpoint, faults=[fault.name])
    try:
        runner.run(simulator.start())  # start() applies the faults
        simulator.check()
    finally:
        simulator.close()
        runner.close()


def test_all_faults_compose() -> None:
    device = _open(tuple(BATTERY_FAULTS))
    try:
        status = device.status()
        assert status.reserve_pct == 20
    finally:
        device.close()


# Each probe drives a DUT the way a suite would and returns the one thing its fault bends.
Probe = Callable[[DeviceUnderTest], object]


def _discovered(dut: DeviceUnderTest) -> object:
    return dut.communication_check().discovered


def _map_lists_unserved(dut: DeviceUnderTest) -> object:
    return any("refuses to serve: 0xE5" in p for p in dut.communication_check().problems)


def _dr_update_accepted(dut: DeviceUnderTest) -> object:
    dut.request_power(-1000, 3600)
    return dut.request_power(-500, 3600).accepted


def _power_after(target_w: float, wait_s: float) -> Probe:
    def probe(dut: DeviceUnderTest) -> object:
        dut.request_power(target_w)
        dut.wait(wait_s)
        return dut.status().power_w

    return probe


def _dischargeable(dut: DeviceUnderTest) -> object:
    return dut.status().dischargeable_wh


def _chargeable_moves(dut: DeviceUnderTest) -> object:
    before = dut.status().chargeable_wh
    dut.request_power(3000)
    dut.wait(1200)
    return dut.status().chargeable_wh < before


def _below_reserve(dut: DeviceUnderTest) -> object:
    dut.request_power(-3000)
    # Reading every 10 min keeps the link alive, so comms loss does not end the DR first.
    return dut.sample(5000, 600)[-1].status.soc_pct < 20


def _reported_reserve(dut: DeviceUnderTest) -> object:
    dut.set_backup_reserve_pct(30)
    return dut.status().reserve_pct


def _counters_monotonic(dut: DeviceUnderTest) -> object:
    dut.request_power(3000)
    # Every 10 s around the 600 s mark, where the faulty counter steps back by 50 Wh.
    counts = [sample.status.charged_wh for sample in dut.sample(700, 10)]
    return all(later >= earlier for earlier, later in itertools.pairwise(counts))


def _counter_ratio(dut: DeviceUnderTest) -> object:
    dut.request_power(3000)
    dut.wait(1500)
    counted_wh = dut.status().charged_wh  # reading it brings the model up to now
    return round(counted_wh / _simulator(dut).device.model.charged_wh, 2)


def _mode_after_dr_duration(dut: DeviceUnderTest) -> object:
    dut.request_power(-1000, 600)
    dut.wait(700)
    return dut.read_mode()


def _mode_after_comms_loss(dut: DeviceUnderTest) -> object:
    dut.request_power(-1000)
    with dut.comms_cut():
        dut.wait(1900)
    return dut.read_mode()


def _identity_survives_restart(dut: DeviceUnderTest) -> object:
    before = dut.identity()
    dut.restart()
    return dut.identity() == before


def _serial_number(dut: DeviceUnderTest) -> object:
    return dut.identity().serial_number


def _release(dut: DeviceUnderTest) -> object:
    return dut.appendix_release()


def _mode_after_release(dut: DeviceUnderTest) -> object:
    dut.request_power(-1000, 3600)
    dut.wait(60)
    dut.set_own_mode("auto")
    return dut.read_mode()


def _charged_after_dr_start(dut: DeviceUnderTest) -> object:
    dut.request_power(3000)
    dut.wait(600)
    before = dut.status().charged_wh
    dut.request_power(-1000)
    return dut.status().charged_wh == before


def _soc_and_dischargeable(dut: DeviceUnderTest) -> object:
    status = dut.status()
    return status.soc_pct, status.dischargeable_wh


def _identification_number(dut: DeviceUnderTest) -> object:
    return dut.identity().identification_number


def _from(seed: bytes) -> str:
    """0x83 as the reference battery derives it: 0xFE, its maker code, 13 bytes of the seed."""
    return "FEFFFFFF" + hashlib.sha256(seed).digest()[:13].hex().upper()


#: fault -> (probe, what the conforming simulator gives, what the faulty one gives)
SYMPTOMS: dict[str, tuple[Probe, object, object]] = {
    "wrong_tid_node_profile": (_discovered, True, False),
    # From the product code: the same in every unit of the model (seen across units only).
    "shared_identity": (_identification_number, _from(b"SIM0000001"), _from(b"DRR-BAT-SIM")),
    "property_map_lists_unserved_epc": (_map_lists_unserved, False, True),
    "refuses_updates_during_dr": (_dr_update_accepted, True, False),
    "ignores_target_power": (_power_after(-500, 60), -500, -3000),
    "exceeds_max_power": (_power_after(4000, 60), 3000, 4000),
    "slow_ramp": (_power_after(1000, 20), 1000, 10),
    "dischargeable_ignores_reserve": (_dischargeable, 2940, 4900),
    "chargeable_frozen": (_chargeable_moves, True, False),
    "discharges_below_reserve": (_below_reserve, False, True),
    "reserve_change_not_reported": (_reported_reserve, 30, 20),
    "energy_counter_not_monotonic": (_counters_monotonic, True, False),
    "energy_counter_mismatch": (_counter_ratio, 1.0, 0.6),
    "power_sign_inverted": (_power_after(-1000, 60), -1000, 1000),
    "stays_in_dr": (_mode_after_dr_duration, "auto", "discharging"),
    "restores_wrong_mode": (_mode_after_dr_duration, "auto", "standby"),
    "ignores_comms_loss": (_mode_after_comms_loss, "auto", "discharging"),
    "identity_changes_on_restart": (_identity_survives_restart, True, False),
    "serial_number_missing": (_serial_number, "SIM0000001", None),
    "wrong_release": (_release, "R", "J"),
    "ignores_release": (_mode_after_release, "auto", "discharging"),
    "store_only": (_power_after(-1000, 60), -1000, 0),
    "power_reads_stuck": (_power_after(-1000, 60), -1000, 8),
    "counter_resets_at_dr_start": (_charged_after_dr_start, True, False),
    "dischargeable_ignores_reserve_near_reserve": (_soc_and_dischargeable, (50, 2940), (30, 2940)),
}


def test_every_fault_has_a_symptom() -> None:
    # The link faults bend the wire, not the device: tests/simulators/test_link_faults.py.
    assert set(SYMPTOMS) == {
        name for name, f in BATTERY_FAULTS.items() if f.apply.__module__ != link_faults.__name__
    }


@pytest.mark.parametrize("name", sorted(SYMPTOMS))
def test_fault_changes_the_behaviour_it_names(name: str) -> None:
    probe, golden_value, faulty_value = SYMPTOMS[name]
    for faults, expected in (((), golden_value), ((name,), faulty_value)):
        device = _open(faults)
        try:
            assert probe(device) == expected, f"faults={faults}"
        finally:
            device.close()


@pytest.mark.parametrize("gap_w", [1e-9, 1e-13, 0.5e-4])
@pytest.mark.timeout(10)
def test_model_advance_terminates_when_the_ramp_gap_is_below_float_resolution(
    gap_w: float,
) -> None:
    # A regression: a ramp ending within ~1e-15 s made a step that did not move the clock.
    model = BatteryModel(BatteryParams(), now=1e5)
    model.power_w = 1000.0
    model.setpoint_w = 1000.0 + gap_w
    model.advance(1e5 + 30.0)
    assert model.time == pytest.approx(1e5 + 30.0)
    assert model.power_w == pytest.approx(1000.0 + gap_w)


def _announced(dut: DeviceUnderTest) -> list[tuple[float, dict[int, bytes]]]:
    """The battery's status-change INFs the gateway received: (time, {EPC: EDT})."""
    gateway = dut.binding.gateway  # type: ignore[attr-defined]
    return [
        (record.time, {p.epc: p.edt for p in frame.properties})
        for record, (_, frame) in zip(
            [r for r in dut.evidence if r.kind == "rx" and r.summary.startswith("INF 0x027D01")],
            [n for n in gateway.notifications if n[1].seoj.class_id == 0x027D],
            strict=True,
        )
    ]


def test_status_changes_are_announced_including_those_physics_makes(
    dut: DeviceUnderTest,
) -> None:
    # Every EPC in the status change announcement map (0x9D) is announced when it changes
    # (ECHONET Lite Spec. Part 2, 4.3.1): the mode setting at once, the working operation status
    # (0xCF) when the power really changes sign, and both again when the DR ends.
    start = dut.now()
    assert dut.request_power(-1500, 600).accepted
    dut.wait(700)
    announced = _announced(dut)
    setting = [(t - start, e[0xDA]) for t, e in announced if 0xDA in e]
    working = [(t - start, e[0xCF]) for t, e in announced if 0xCF in e]
    assert setting[0] == (0.0, b"\x43")  # discharging, announced with the request
    assert (0.0, b"\x44") in working  # still at rest: standby
    assert any(value == b"\x43" and 0 < t < 1 for t, value in working)  # flows a moment later
    assert setting[-1] == (600.0, b"\x46")  # the DR is over: back to auto
    # Auto does self-consumption: at rest, or charging from the morning's PV surplus.
    own_w = _simulator(dut).device.model.power_w
    assert working[-1][1] == (b"\x42" if own_w > 0 else b"\x43" if own_w < 0 else b"\x46")
