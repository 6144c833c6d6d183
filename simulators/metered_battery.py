"""The ECHONET Lite reference battery with the independent meter a lab puts beside it: a SunSpec
model 203 meter on pymodbus's null modem, measuring the battery's true power (what a profile's
``meter.address = "simulator"`` asks for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from drready.simulators.battery import BatteryConfig
from drready.simulators.runtime import EndpointFactory, SimulatedBattery
from drready.simulators.sunspec_meter import SunSpecMeterConfig, SunSpecMeterDevice
from drready.simulators.sunspec_runtime import NULLMODEM_HOST, SimulatedMeter

from drready.echonet.transport import Address

__all__ = ["MeteredBattery"]


class MeteredBattery(SimulatedBattery):
    """The reference battery that owns its meter: started, checked and closed with it."""

    def __init__(
        self,
        open_endpoint: EndpointFactory,
        config: BatteryConfig | None = None,
        faults: Sequence[str] = (),
        *,
        meter_unit: int,
        time_scale: float = 1.0,
        start_time: float | None = None,
        meter_noise_w: float = 0.0,
        noise_seed: int = 0,
    ) -> None:
        super().__init__(
            open_endpoint, config, faults, time_scale=time_scale, start_time=start_time
        )
        self.meter_unit = meter_unit
        self.meter_noise_w = meter_noise_w
        self.noise_seed = noise_seed
        self.meter: SimulatedMeter | None = None

    @property
    def meter_address(self) -> Address | None:
        return None if self.meter is None else self.meter.address

    async def start(self) -> Self:
        await super().start()
        if self.meter is None:
            config = SunSpecMeterConfig(
                unit_id=self.meter_unit, noise_w=self.meter_noise_w, noise_seed=self.noise_seed
            )
            meter = SimulatedMeter(NULLMODEM_HOST, 0, SunSpecMeterDevice(config, self.device))
            meter.reply_latency_s = self.reply_delay_s
            self.meter = await meter.start()
        return self

    def check(self) -> None:
        super().check()
        if self.meter is not None:
            self.meter.check()

    def close(self) -> None:
        meter, self.meter = self.meter, None
        if meter is not None:
            meter.close()
        super().close()
