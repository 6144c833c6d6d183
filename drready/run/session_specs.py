"""What a simulated run asks of the simulator backend, read off the profile: the specs of
:mod:`drready.simulation`, and the session's hold on what it started."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from drready.clock import LoopRunner
from drready.errors import SessionError
from drready.model import DeviceClass
from drready.profile import Profile
from drready.simulation import (
    BatteryRatings,
    DeviceIdentity,
    DeviceSpec,
    MakerCloudSimulator,
    StandInSimulator,
    StartState,
    VenSimulator,
    WaterHeaterFigures,
)

__all__ = [
    "MakerCloudSession",
    "SimulatedSession",
    "VenSession",
    "device_spec",
    "identity",
    "ratings",
    "run_on",
]


def ratings(profile: Profile) -> BatteryRatings | None:
    declared = profile.ratings
    if declared is None:
        return None
    return BatteryRatings(
        capacity_wh=declared.capacity_wh,
        max_charge_w=declared.max_charge_w,
        max_discharge_w=declared.max_discharge_w,
        min_charge_w=declared.min_charge_w,
        min_discharge_w=declared.min_discharge_w,
    )


def identity(profile: Profile) -> DeviceIdentity:
    declared = profile.device
    maker = declared.manufacturer_code
    return DeviceIdentity(
        serial_number=declared.serial_number or None,
        product_code=declared.product_code or None,
        manufacturer_code=bytes.fromhex(maker.removeprefix("0x")) if maker else None,
    )


def device_spec(
    profile: Profile,
    faults: Sequence[str],
    *,
    meter_unit: int | None = None,
    start: StartState | None = None,
) -> DeviceSpec:
    """The reference device becomes the device the profile declares: its ratings or published
    figures, identity, own mode, comms-loss timeout and EPC mapping."""
    device_class = DeviceClass(profile.device.device_class)
    battery = device_class is DeviceClass.BATTERY
    if battery and profile.ratings is None:
        raise SessionError("the battery simulator needs [ratings] in the profile")
    spec = profile.water_heater
    if not battery and spec is None:
        raise SessionError("the water-heater simulator needs [water_heater] in the profile")
    figures = None
    if device_class is not DeviceClass.BATTERY and spec is not None:
        figures = WaterHeaterFigures(
            rated_heating_power_w=spec.rated_heating_power_w,
            daily_heating_wh=spec.daily_heating_wh,
            dr_share=spec.published_dr_share,
            acceptance_windows_s=spec.windows_s,
            evaluation_start_s=spec.evaluation_start_s,
            night_heating_s=spec.night_heating_s,
            tank_litres=spec.tank_litres,
        )
    return DeviceSpec(
        device_class=device_class,
        faults=tuple(faults),
        instance=profile.echonet.instance if profile.echonet is not None else 1,
        identity=identity(profile),
        ratings=ratings(profile) if battery else None,
        water_heater=figures,
        own_mode=profile.device.own_modes[0] if battery else None,
        comms_loss_timeout_s=profile.timings.comms_loss_timeout_s if battery else None,
        mapping=dict(profile.mapping),
        meter_unit=meter_unit,
        reply_port=profile.echonet.reply_port if profile.echonet is not None else None,
        start=start or StartState(),
    )


class SimulatedSession:
    """A stand-in simulator (a VEN, a maker cloud) and everything else a simulated session
    started, as the facade's simulator control: closing it releases all of it (``resources``,
    the session's ExitStack), on the session's loop."""

    def __init__(
        self,
        stand_in: StandInSimulator,
        resources: ExitStack,
        checks: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.stand_in = stand_in
        self.resources = resources
        self.checks = tuple(checks)

    async def start(self) -> object:
        return self  # the session started everything before handing it over

    def restart(self) -> None:
        self.stand_in.restart()

    def check(self) -> None:
        self.stand_in.check()
        for check in self.checks:
            check()

    def close(self) -> None:
        self.resources.close()


class VenSession(SimulatedSession):
    def __init__(
        self,
        ven: VenSimulator,
        resources: ExitStack,
        checks: Sequence[Callable[[], None]] = (),
    ) -> None:
        super().__init__(ven, resources, checks)
        self.simulated_ven = ven

    @property
    def ven(self) -> Any:
        """The reference VEN (its log, for tests)."""
        return self.simulated_ven.ven


class MakerCloudSession(SimulatedSession):
    def __init__(self, cloud: MakerCloudSimulator, resources: ExitStack) -> None:
        super().__init__(cloud, resources)
        self.simulated_cloud = cloud

    @property
    def cloud(self) -> Any:
        """The reference maker cloud (what it executed, its config, for tests)."""
        return self.simulated_cloud.cloud


def run_on(runner: LoopRunner, close: Callable[[], Any]) -> Callable[[], None]:
    """A clean-up that runs the coroutine ``close()`` makes on the session's loop (skipped once
    the loop is closed: nothing runs there any more)."""

    def release() -> None:
        if not runner.loop.is_closed():
            runner.run(close())

    return release
