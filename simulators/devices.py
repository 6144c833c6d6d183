"""The reference devices built from the harness's specs (:mod:`drready.simulation`): a spec's
figures, identity and EPC mapping become the simulator's config, and its named faults are
applied when the device starts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

from drready.simulators.battery import BatteryConfig
from drready.simulators.battery_household import Household
from drready.simulators.battery_model import BatteryParams
from drready.simulators.runtime import EndpointFactory, SimulatedBattery, SimulatedNode
from drready.simulators.water_heater import WaterHeaterConfig
from drready.simulators.water_heater_runtime import SimulatedWaterHeater

from drready.model import DeviceClass
from drready.simulation import BatteryRatings, DeviceIdentity, DeviceSpec, StartState

__all__ = ["battery_params", "build_device", "heater_config"]


def battery_params(
    ratings: BatteryRatings | None, start: StartState | None = None
) -> BatteryParams:
    """The reference battery's physics, sized by the declared ratings, starting at the seeded
    state of charge when ``start`` gives one."""
    params = BatteryParams()
    if ratings is not None:
        params = BatteryParams(
            capacity_wh=ratings.capacity_wh,
            max_charge_w=ratings.max_charge_w,
            max_discharge_w=ratings.max_discharge_w,
            min_charge_w=ratings.min_charge_w,
            min_discharge_w=ratings.min_discharge_w,
        )
    if start is not None and start.soc_pct is not None:
        params = replace(params, initial_soc_pct=start.soc_pct)
    return params


def _identity(config: BatteryConfig | WaterHeaterConfig, identity: DeviceIdentity) -> None:
    """The simulator takes on the declared identity (its maker, product, serial)."""
    if identity.serial_number:
        config.serial_number = identity.serial_number
    if identity.product_code:
        config.product_code = identity.product_code
    if identity.manufacturer_code:
        config.maker_code = identity.manufacturer_code


def battery_config(spec: DeviceSpec) -> BatteryConfig:
    """The battery the spec declares, its own mode "auto" doing self-consumption for a house
    (:class:`~drready.simulators.battery_household.Household`), as home batteries do."""
    config = BatteryConfig(params=battery_params(spec.ratings, spec.start), household=Household())
    if spec.comms_loss_timeout_s is not None:
        config.comms_loss_timeout_s = spec.comms_loss_timeout_s
    if spec.mapping is not None:
        config.mapping = dict(spec.mapping)
    if spec.own_mode is not None:
        config.own_mode = spec.own_mode
    _identity(config, spec.identity)
    return config


def heater_config(spec: DeviceSpec) -> WaterHeaterConfig:
    """The water heater the spec declares: its published figures, identity and EPC mapping
    over the reference device of its class."""
    config = WaterHeaterConfig.for_class(spec.device_class)
    figures = spec.water_heater
    if figures is not None:
        config.rated_heating_power_w = figures.rated_heating_power_w
        config.daily_heating_wh = figures.daily_heating_wh
        config.dr_share = figures.dr_share
        config.acceptance_windows = figures.acceptance_windows_s
        config.evaluation_start_s = figures.evaluation_start_s
        config.night_heating = figures.night_heating_s
        if figures.tank_litres is not None:
            config.tank_litres = figures.tank_litres
    config.initial_tank_temp_c = spec.start.tank_temp_c
    if spec.mapping is not None:
        config.mapping = dict(spec.mapping)
    _identity(config, spec.identity)
    return config


def _start_time(spec: DeviceSpec, utc_offset_s: float) -> float | None:
    """Where the device's clock starts (epoch seconds): the spec's local start time in the
    device's zone, or None (the wall clock)."""
    if spec.start_local_time is None:
        return None
    zone = timezone(timedelta(seconds=utc_offset_s))
    return spec.start_local_time.replace(tzinfo=zone).timestamp()


def build_device(spec: DeviceSpec, open_endpoint: EndpointFactory) -> SimulatedNode:
    """The reference device of ``spec.device_class`` on the endpoint ``open_endpoint`` opens
    (a battery with its meter when ``spec.meter_unit`` is given), answering to the port the
    spec says."""
    node = _build_device(spec, open_endpoint)
    node.reply_port = spec.reply_port
    node.reply_delay_s = spec.start.reply_latency_s
    return node


def _build_device(spec: DeviceSpec, open_endpoint: EndpointFactory) -> SimulatedNode:
    if spec.device_class is DeviceClass.BATTERY:
        config = battery_config(spec)
        start = _start_time(spec, config.utc_offset_s)
        if spec.meter_unit is not None:
            from drready.simulators.metered_battery import MeteredBattery  # pymodbus

            return MeteredBattery(
                open_endpoint,
                config,
                spec.faults,
                meter_unit=spec.meter_unit,
                time_scale=spec.time_scale,
                start_time=start,
                meter_noise_w=spec.start.meter_noise_w,
                noise_seed=spec.start.noise_seed,
            )
        return SimulatedBattery(
            open_endpoint, config, spec.faults, time_scale=spec.time_scale, start_time=start
        )
    config = heater_config(spec)
    start = _start_time(spec, config.utc_offset_s)
    return SimulatedWaterHeater(
        open_endpoint, config, spec.faults, time_scale=spec.time_scale, start_time=start
    )
