"""The reference simulators' backend: what the harness finds under the ``drready.simulators``
entry point (:mod:`drready.simulation` declares the interface and the specs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from drready.simulators.faults import FAULTS

from drready.simulation import (
    DeviceSpec,
    FaultInfo,
    MakerCloudSpec,
    SunSpecSpec,
    VenSpec,
)

if TYPE_CHECKING:
    from drready.simulators.maker_cloud_runtime import SimulatedMakerCloud
    from drready.simulators.runtime import EndpointFactory, SimulatedNode
    from drready.simulators.sunspec_runtime import SimulatedSunSpecBattery
    from drready.simulators.ven_runtime import SimulatedVen

__all__ = ["BACKEND", "ReferenceBackend"]


class ReferenceBackend:
    """The built-in reference devices and their named faults.

    Each factory imports what it builds when first asked: a run loads the Modbus server, the
    VEN or the cloud (pymodbus, aiohttp) only if it uses them.
    """

    @property
    def faults(self) -> Mapping[str, FaultInfo]:
        return FAULTS

    def echonet_device(self, spec: DeviceSpec, open_endpoint: EndpointFactory) -> SimulatedNode:
        from drready.simulators.devices import build_device

        return build_device(spec, open_endpoint)

    def sunspec_battery(self, spec: SunSpecSpec, host: str, port: int) -> SimulatedSunSpecBattery:
        from drready.simulators.battery_household import Household
        from drready.simulators.devices import battery_params
        from drready.simulators.sunspec_battery import SunSpecBatteryConfig
        from drready.simulators.sunspec_meter import SunSpecMeterConfig
        from drready.simulators.sunspec_runtime import SimulatedSunSpecBattery

        config = SunSpecBatteryConfig(
            params=battery_params(spec.ratings, spec.start),
            household=Household(),  # own mode "auto": self-consumption, as in every run
            unit_id=spec.unit_id,
            storage_model=spec.storage_model,
            sunspec_marker=spec.sunspec_marker,
        )
        if spec.comms_loss_timeout_s is not None:
            config = replace(config, comms_loss_timeout_s=spec.comms_loss_timeout_s)
        if spec.identity.serial_number:
            config.serial_number = spec.identity.serial_number
        if spec.identity.product_code:
            config.model_name = spec.identity.product_code
        meter_config = None
        if spec.meter_unit is not None:
            meter_config = SunSpecMeterConfig(
                serial_number=f"{config.serial_number}-M"[:32],
                base_address=config.base_address,
                unit_id=spec.meter_unit,
                noise_w=spec.start.meter_noise_w,
                noise_seed=spec.start.noise_seed,
            )
        battery = SimulatedSunSpecBattery(
            host,
            port,
            config,
            spec.faults,
            meter_unit=spec.meter_unit,
            meter_config=meter_config,
        )
        battery.reply_latency_s = spec.start.reply_latency_s
        return battery

    def openadr_ven(self, spec: VenSpec) -> SimulatedVen:
        from drready.simulators.ven_runtime import SimulatedVen

        return SimulatedVen(spec)

    def maker_cloud(self, spec: MakerCloudSpec) -> SimulatedMakerCloud:
        from drready.simulators.maker_cloud_runtime import SimulatedMakerCloud

        return SimulatedMakerCloud(spec)


BACKEND = ReferenceBackend()
