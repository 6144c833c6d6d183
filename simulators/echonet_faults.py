"""Named faults of the ECHONET Lite reference devices: the battery, the heat-pump and the hybrid
water heater. Each bends one behaviour and names exactly the requirements the suite must then
fail. Registered into :data:`drready.simulators.fault_registry.FAULTS` on import.
"""

from __future__ import annotations

from drready.simulators.fault_registry import BatterySimulator, WaterHeaterSimulator, fault

from drready.echonet.codec import ESV, NODE_PROFILE, Frame

# -- battery ---------------------------------------------------------------------------------


@fault(
    "wrong_tid_node_profile",
    "battery",
    ("BAT-1.1",),
    "The node profile answers with the request's TID plus one, so discovery never completes.",
)
def _wrong_tid(sim: BatterySimulator) -> None:
    def shift_tid(frame: Frame) -> Frame:
        if frame.seoj == NODE_PROFILE and frame.esv != ESV.INF:
            return Frame(
                (frame.tid + 1) & 0xFFFF,
                frame.seoj,
                frame.deoj,
                frame.esv,
                frame.properties,
                frame.get_properties,
            )
        return frame

    sim.response_filters.append(shift_tid)


@fault(
    "property_map_lists_unserved_epc",
    "battery",
    ("BAT-1.1",),
    "The Get property map (0x9F) lists EPC 0xE5 (state of health), which the device cannot serve.",
)
def _unserved(sim: BatterySimulator) -> None:
    sim.device.battery.advertise_unserved(0xE5)


@fault(
    "refuses_updates_during_dr",
    "battery",
    ("BAT-2.1",),
    "Accepts a first DR request but answers SetC_SNA to any further request while DR runs.",
)
def _refuse_updates(sim: BatterySimulator) -> None:
    sim.device.behaviour.refuse_updates_during_dr = True


@fault(
    "ignores_target_power",
    "battery",
    ("BAT-2.2",),
    "Acknowledges DR and enters the mode, but runs at rated power whatever the target.",
)
def _ignore_target(sim: BatterySimulator) -> None:
    sim.device.behaviour.ignore_target_value = True


@fault(
    "exceeds_max_power",
    "battery",
    ("BAT-2.2",),
    "Executes a target above the rated maximum instead of clamping or refusing it.",
)
def _exceeds(sim: BatterySimulator) -> None:
    sim.device.behaviour.clamp_to_rating = False


@fault(
    "slow_ramp",
    "battery",
    ("BAT-2.2",),
    "Ramps at 0.5 W/s, so the target is not reached within the declared response time.",
)
def _slow_ramp(sim: BatterySimulator) -> None:
    model = sim.device.model
    model.params = type(model.params)(**{**vars(model.params), "ramp_w_per_s": 0.5})


@fault(
    "dischargeable_ignores_reserve",
    "battery",
    ("BAT-2.3",),
    "Reports the whole stored energy as dischargeable (0xA5), ignoring the backup reserve.",
)
def _dischargeable(sim: BatterySimulator) -> None:
    sim.device.behaviour.dischargeable_respects_reserve = False


@fault(
    "chargeable_frozen",
    "battery",
    ("BAT-2.3",),
    "Reports a fixed chargeable energy (0xA4) that does not move while charging.",
)
def _chargeable_frozen(sim: BatterySimulator) -> None:
    sim.device.behaviour.freeze_chargeable = True


@fault(
    "discharges_below_reserve",
    "battery",
    ("BAT-2.4",),
    "Keeps discharging under DR past the configured backup reserve.",
)
def _below_reserve(sim: BatterySimulator) -> None:
    sim.device.behaviour.discharge_respects_reserve = False


@fault(
    "reserve_change_not_reported",
    "battery",
    ("BAT-2.4",),
    "Accepts a new backup reserve (0xA7) but keeps reporting the old one.",
)
def _reserve_not_reported(sim: BatterySimulator) -> None:
    sim.device.behaviour.report_reserve_changes = False


@fault(
    "energy_counter_not_monotonic",
    "battery",
    ("BAT-2.5",),
    "The cumulative energy counters (0xA8/0xA9) step back by 50 Wh every other ten minutes.",
)
def _not_monotonic(sim: BatterySimulator) -> None:
    sim.device.behaviour.energy_counter_rollback_wh = 50.0


@fault(
    "energy_counter_mismatch",
    "battery",
    ("BAT-2.5",),
    "The cumulative energy counters count 60 % of the energy that really flows.",
)
def _mismatch(sim: BatterySimulator) -> None:
    sim.device.behaviour.energy_counter_scale = 0.6


@fault(
    "power_sign_inverted",
    "battery",
    ("BAT-2.5",),
    "Reports instantaneous power (0xD3) with the sign inverted: discharging reads as charging. "
    "Its energy counters and working status (0xCF) show the true direction, so execution "
    "(BAT-2.2) is judged by them and only the reporting fails.",
)
def _sign(sim: BatterySimulator) -> None:
    sim.device.behaviour.power_reading_sign = -1


@fault(
    "stays_in_dr",
    "battery",
    ("BAT-2.6",),
    "Ignores the end of the DR duration and keeps executing the request.",
)
def _stays(sim: BatterySimulator) -> None:
    sim.device.behaviour.end_dr_on_duration = False


@fault(
    "restores_wrong_mode",
    "battery",
    ("BAT-2.6",),
    "When DR ends on its duration, goes to standby instead of the mode it had before DR.",
)
def _wrong_mode(sim: BatterySimulator) -> None:
    sim.device.behaviour.restore_mode_on_duration = False


@fault(
    "ignores_comms_loss",
    "battery",
    ("BAT-2.7",),
    "Keeps executing DR for ever when the gateway falls silent.",
)
def _comms(sim: BatterySimulator) -> None:
    sim.device.behaviour.restore_on_comms_loss = False


@fault(
    "identity_changes_on_restart",
    "battery",
    ("BAT-ID",),
    "Derives its identification number (0x83) and serial (0x8D) from the boot count.",
)
def _identity(sim: BatterySimulator) -> None:
    sim.device.behaviour.stable_identity = False


@fault(
    "shared_identity",
    "battery",
    ("BAT-ID",),
    "Derives its identification number (0x83) from the product code, not the serial number: "
    "every unit of the model reports the same 0x83 (seen only across units: --units 2 or more).",
    units=2,
)
def _shared_identity(sim: BatterySimulator) -> None:
    sim.device.behaviour.identification_from_product = True


@fault(
    "serial_number_missing",
    "battery",
    ("BAT-ID",),
    "Does not serve the production number (0x8D), so the unit cannot be told apart.",
)
def _no_serial(sim: BatterySimulator) -> None:
    sim.device.behaviour.serve_serial_number = False
    sim.device.battery.withdraw(0x8D)


@fault(
    "wrong_release",
    "battery",
    ("BAT-3.3",),
    "Reports Appendix release 'J' in 0x82 while the profile declares 'R'.",
)
def _release(sim: BatterySimulator) -> None:
    sim.device.behaviour.release_letter = "J"


# -- heat-pump water heater (EcoCute) -------------------------------------------------------


@fault(
    "hp_dr_share_below_half",
    "heatpump",
    ("HP-2.1",),
    "Computes its DR-possible amounts (0xCB) with a 40 % share, below the DRready minimum of 50 %.",
)
def _hp_dr_share_below_half(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.dr_share = 0.40


@fault(
    "hp_dr_share_unpublished",
    "heatpump",
    ("HP-2.1",),
    "Computes its DR-possible amounts (0xCB) with a 52 % share while 60 % is published.",
)
def _hp_dr_share_unpublished(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.dr_share = 0.52


@fault(
    "hp_accepts_outside_window",
    "heatpump",
    ("HP-2.2",),
    "Accepts and plans any start hour, inside the published acceptance window or not.",
)
def _hp_accepts_outside_window(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.accept_outside_window = True


@fault(
    "hp_refuses_window_end",
    "heatpump",
    ("HP-2.2",),
    "Refuses the last start time of each acceptance window, which the window includes.",
)
def _hp_refuses_window_end(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.refuse_window_end = True


@fault(
    "hp_ignores_start_time",
    "heatpump",
    ("HP-2.3",),
    "Reports the requested plan but starts DR heating at the first window start (10:00).",
)
def _hp_ignores_start_time(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.heat_at_first_window_start = True


@fault(
    "hp_heats_early",
    "heatpump",
    ("HP-2.3",),
    "Starts DR heating one hour before the requested start time.",
)
def _hp_heats_early(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.heat_early_s = 3600.0


@fault(
    "hp_plan_not_reported",
    "heatpump",
    ("HP-2.3",),
    "Executes the plan, but its plan EPC (0xCA) reads 'no plan' after acceptance.",
)
def _hp_plan_not_reported(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.report_plan = False


@fault(
    "hp_power_stuck",
    "heatpump",
    ("HP-2.4",),
    "Reports 0 W instantaneous power (0x84) at all times, heating or not; its energy counter "
    "(0x85) and heating status (0xB2) still show the heating, so HP-2.3 holds.",
)
def _hp_power_stuck(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.power_stuck_zero = True


@fault(
    "hp_idle_power_high",
    "heatpump",
    ("HP-2.4",),
    "Reports 400 W instantaneous power (0x84) while it is not heating.",
)
def _hp_idle_power_high(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.idle_power_w = 400.0


@fault(
    "hp_identity_unstable",
    "heatpump",
    ("HP-ID",),
    "Derives its identification number (0x83) and serial (0x8D) from the boot count.",
)
def _hp_identity_unstable(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.stable_identity = False


@fault(
    "hp_get_map_unserved",
    "heatpump",
    ("HP-1.1",),
    "The Get property map (0x9F) lists 0xC1 (tank water temperature), which it refuses to serve.",
)
def _hp_get_map_unserved(sim: WaterHeaterSimulator) -> None:
    sim.device.heater.advertise_unserved(0xC1)


@fault(
    "hp_wrong_release",
    "heatpump",
    ("HP-3.3",),
    "Reports Appendix release 'J' in 0x82 while the profile declares 'R'.",
)
def _hp_wrong_release(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.release_letter = "J"


# -- hybrid water heater ------------------------------------------------------------------


@fault(
    "hy_dr_share_below_half",
    "hybrid",
    ("HY-2.1",),
    "Computes its DR-possible amount (0xF2) with a 40 % share, below the DRready minimum of 50 %.",
)
def _hy_dr_share_below_half(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.dr_share = 0.40


@fault(
    "hy_dr_share_unpublished",
    "hybrid",
    ("HY-2.1",),
    "Computes its DR-possible amount (0xF2) with a 52 % share while 60 % is published.",
)
def _hy_dr_share_unpublished(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.dr_share = 0.52


@fault(
    "hy_dr_possible_ignores_start",
    "hybrid",
    ("HY-2.1",),
    "Reports share x daily heating as DR-possible (0xF2) whatever the start time; the heating "
    "it does is still limited by the time left before the evening.",
)
def _hy_dr_possible_ignores_start(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.dr_possible_ignores_start = True


@fault(
    "hy_accepts_outside_window",
    "hybrid",
    ("HY-2.2",),
    "Accepts and plans any start time, inside the published acceptance window or not.",
)
def _hy_accepts_outside_window(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.accept_outside_window = True


@fault(
    "hy_ignores_start_time",
    "hybrid",
    ("HY-2.3",),
    "Reports the requested plan but starts DR heating at the first window start (09:00).",
)
def _hy_ignores_start_time(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.heat_at_first_window_start = True


@fault(
    "hy_heats_early",
    "hybrid",
    ("HY-2.3",),
    "Starts DR heating one hour before the requested start time.",
)
def _hy_heats_early(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.heat_early_s = 3600.0


@fault(
    "hy_aux_replaces_heat_pump",
    "hybrid",
    ("HY-2.1", "HY-2.3"),
    "At the start time the gas heater does the DR heating (0xF3 = 1) while the heat pump stays "
    "off and draws nothing.",
)
def _hy_aux_replaces_heat_pump(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.aux_does_dr_heating = True


@fault(
    "hy_power_stuck",
    "hybrid",
    ("HY-2.4",),
    "Reports 0 W instantaneous power (0x84) at all times, heating or not; its energy counter "
    "(0x85) and heating status (0xB2) still show the heating, so HY-2.3 holds.",
)
def _hy_power_stuck(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.power_stuck_zero = True


@fault(
    "hy_idle_power_high",
    "hybrid",
    ("HY-2.4",),
    "Reports 400 W instantaneous power (0x84) while it is not heating.",
)
def _hy_idle_power_high(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.idle_power_w = 400.0


@fault(
    "hy_identity_unstable",
    "hybrid",
    ("HY-ID",),
    "Derives its identification number (0x83) and serial (0x8D) from the boot count.",
)
def _hy_identity_unstable(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.stable_identity = False


@fault(
    "hy_get_map_unserved",
    "hybrid",
    ("HY-1.1",),
    "The Get property map (0x9F) lists 0xB3 (heater status), which it refuses to serve.",
)
def _hy_get_map_unserved(sim: WaterHeaterSimulator) -> None:
    sim.device.heater.advertise_unserved(0xB3)


@fault(
    "hy_wrong_release",
    "hybrid",
    ("HY-3.3",),
    "Reports Appendix release 'J' in 0x82 while the profile declares 'R'.",
)
def _hy_wrong_release(sim: WaterHeaterSimulator) -> None:
    sim.device.behaviour.release_letter = "J"
