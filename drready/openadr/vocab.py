"""The OpenADR 3 vocabulary both ends of drready's server topology speak: the harness's servicer
binding (:mod:`drready.bindings.openadr_device`) and the reference VEN
(:mod:`drready.simulators.ven`).

OpenADR 3.1 fixes the document shapes and some payload types; DRready needs more than it names.
Types the specification defines are used as it defines them; the others are private strings
(the specification allows any agreed name) prefixed ``DRREADY_``. Units follow the
specification's unit list: kW and kWh, so every watt figure is divided by 1000 on the wire.

Program and events
    One program, :data:`PROGRAM_NAME`. At the start of a session the harness publishes a standing
    *telemetry event* (payload :data:`TELEMETRY`, one value: the report interval the harness
    expects, seconds; no end) whose id every periodic report carries, since a report must name an
    event. A DR request is an event of its own (a new one replaces the previous DR event, which
    the harness deletes); the VEN executes it once per (id, modificationDateTime), when its
    interval starts, and answers it with a report on that event carrying :data:`REQUEST_STATUS`.
    A report's interval start is when the device was read: the harness takes a reading only from
    a report sampled after it asked.

Event payloads (harness -> device)
    :data:`SETPOINT` (battery, ``DRREADY_POWER_SETPOINT``): one value, kW, + consumption
    (charging), - discharging (the specification's ``DISPATCH_SETPOINT`` is the same figure with
    ``minimum: 0`` in its enumeration, so it cannot ask for a discharge); the event's
    ``intervalPeriod`` gives the start and the duration (``P9999Y``: until further notice).
    When the duration ends the device returns to its own mode by itself.
    :data:`START_TIME` (water heaters): one value, ``"HH:MM"`` on the device's local clock (the
    schema holds it to that pattern); the plan it sets stays when the event is deleted.
    :data:`BACKUP_RESERVE` (battery): one value, percent of capacity; a setting, not a DR (the
    harness deletes the event once answered).
    Deleting a setpoint event ends the DR: the device returns to its own mode. So does a comms
    loss (the VEN's polls failing) longer than the device's declared timeout.

Report payloads (device -> harness), one interval per report
    battery: :data:`DEMAND` kW (+ charging, - discharging: private, since the specification's
    ``DEMAND`` has ``minimum: 0``), :data:`CHARGE_LEVEL` 0..1, :data:`CHARGEABLE` and
    :data:`DISCHARGEABLE` kWh, :data:`CHARGED` and :data:`DISCHARGED` kWh (cumulative),
    :data:`MAX_CHARGE` and :data:`MAX_DISCHARGE` kW, :data:`RESERVE` percent, :data:`MODE` and
    :data:`ACTUAL_MODE` (text), :data:`TARGET` kW (the setpoint in force, 0 when none);
    water heaters: :data:`DEMAND` kW, :data:`DEVICE_TIME` ``"YYYY-MM-DDTHH:MM"`` local,
    :data:`PLANNED_START` ``"HH:MM"`` or ``"NONE"``, :data:`DR_POSSIBLE` kWh, :data:`HEATING` and
    :data:`AUX_HEATING` (booleans; the latter absent without an auxiliary heater),
    :data:`ENERGY` kWh (cumulative), :data:`START_STEP` seconds (the resolution of a start time
    on the device, e.g. 3600 for the standard 0xCA);
    on a DR event: :data:`REQUEST_STATUS` ``["ACCEPTED"]`` or ``["REFUSED", reason]``.

Identity (*-ID) and version (*-3.3)
    The VEN object's ``attributes``, one value each: :data:`IDENTITY_ATTRIBUTES` (type -> the
    Identity field; the manufacturer code as hex without ``0x``), :data:`FIRMWARE_VERSION` (the
    facade's ``node_version()``) and, for a device behind an ECHONET Lite gateway,
    :data:`APPENDIX_RELEASE` (the release letter).
"""

from __future__ import annotations

from typing import Final

PROGRAM_NAME: Final = "drready-dr"
#: The report of a VEN is about its one device.
RESOURCE_NAME: Final = "device"

# -- event payloads -------------------------------------------------------------------------------
TELEMETRY: Final = "DRREADY_TELEMETRY"
SETPOINT: Final = "DRREADY_POWER_SETPOINT"
START_TIME: Final = "DRREADY_HEATING_START_TIME"
BACKUP_RESERVE: Final = "DRREADY_BACKUP_RESERVE"

# -- report payloads ------------------------------------------------------------------------------
DEMAND: Final = "DRREADY_NET_DEMAND"
CHARGE_LEVEL: Final = "STORAGE_CHARGE_LEVEL"
MAX_CHARGE: Final = "STORAGE_MAX_CHARGE_POWER"
MAX_DISCHARGE: Final = "STORAGE_MAX_DISCHARGE_POWER"
CHARGEABLE: Final = "DRREADY_CHARGEABLE_ENERGY"
DISCHARGEABLE: Final = "DRREADY_DISCHARGEABLE_ENERGY"
CHARGED: Final = "DRREADY_CHARGED_ENERGY"
DISCHARGED: Final = "DRREADY_DISCHARGED_ENERGY"
RESERVE: Final = "DRREADY_BACKUP_RESERVE"
MODE: Final = "DRREADY_OPERATION_MODE"
ACTUAL_MODE: Final = "DRREADY_ACTUAL_MODE"
TARGET: Final = "DRREADY_TARGET_POWER"
DEVICE_TIME: Final = "DRREADY_DEVICE_TIME"
PLANNED_START: Final = "DRREADY_PLANNED_START"
NO_PLAN: Final = "NONE"
DR_POSSIBLE: Final = "DRREADY_DR_POSSIBLE_ENERGY"
HEATING: Final = "DRREADY_HEATING"
AUX_HEATING: Final = "DRREADY_AUX_HEATING"
ENERGY: Final = "DRREADY_ENERGY"
START_STEP: Final = "DRREADY_START_TIME_STEP"
REQUEST_STATUS: Final = "DRREADY_REQUEST_STATUS"
ACCEPTED: Final = "ACCEPTED"
REFUSED: Final = "REFUSED"

#: Units of the report payloads that have one (the specification's unit names).
UNITS: Final = {
    DEMAND: "KW",
    MAX_CHARGE: "KW",
    MAX_DISCHARGE: "KW",
    TARGET: "KW",
    CHARGE_LEVEL: "PERCENT",  # the specification's unit for a 0..1 charge level
    CHARGEABLE: "KWH",
    DISCHARGEABLE: "KWH",
    CHARGED: "KWH",
    DISCHARGED: "KWH",
    DR_POSSIBLE: "KWH",
    ENERGY: "KWH",
}

# -- identity -------------------------------------------------------------------------------------
IDENTITY_ATTRIBUTES: Final = {
    "DRREADY_MANUFACTURER_CODE": "manufacturer_code",
    "DRREADY_PRODUCT_CODE": "product_code",
    "DRREADY_SERIAL_NUMBER": "serial_number",
    "DRREADY_IDENTIFICATION_NUMBER": "identification_number",
}
FIRMWARE_VERSION: Final = "DRREADY_FIRMWARE_VERSION"
APPENDIX_RELEASE: Final = "DRREADY_APPENDIX_RELEASE"


def kw(watts: float) -> float:
    """Watts to the kW of the wire (three decimals: 1 W)."""
    return round(watts / 1000.0, 3)


def watts(kilowatts: float) -> float:
    return kilowatts * 1000.0
