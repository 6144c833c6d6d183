"""Values the DUT facade returns: requirement-level, protocol-free, frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


def field_values(value: Any) -> dict[str, Any]:
    """A flat dataclass of readings as a dict, field by field: what ``dataclasses.asdict`` gives
    a dataclass whose fields hold numbers, strings and tuples of them, without its deep copy (a
    reading is filed in the evidence every poll of a run)."""
    kind = type(value)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return {name: getattr(value, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class NotApplicable(Exception):
    """Raised by a test: what it checks does not apply to this device or binding, and why.

    The test is reported ``not-applicable`` with the reason (never as a pass): a requirement whose
    tests are all not applicable is ``not-applicable``; one with passing tests beside it passes,
    naming what did not apply.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Capabilities:
    """What a binding lets the harness do beyond its device class's operations.

    The suites branch on these flags, never on the protocol's name (that is report wording).
    """

    #: The device is an ECHONET Lite object on the LAN, the harness its home gateway: discovery
    #: and property maps to check (*-1.1), the identification number in the 0x83 form, the
    #: Appendix release in 0x82 (*-3.3).
    echonet_lite_node: bool = False
    #: The user can put the device in its own charging or discharging mode (ECHONET Lite 0xDA),
    #: so energy can be moved without a DR.
    own_direction_modes: bool = False
    #: The server path: the documents the device sent (*-1.2) and security probes (*-3.2).
    server_path: bool = False
    #: The harness can power-cycle the device (the in-process simulator): set by the facade.
    restart: bool = False


@dataclass(frozen=True)
class DrAck:
    accepted: bool
    detail: str


@dataclass(frozen=True)
class Identity:
    identification_number: str | None
    manufacturer_code: str | None
    product_code: str | None
    serial_number: str | None
    #: The key a maker's cloud lists the device under (ECHONET Lite Web API); None elsewhere.
    device_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        if self.device_id is None:  # only the Web API has one: not a missing item elsewhere
            del document["device_id"]
        return document


@dataclass(frozen=True)
class Status:
    """One snapshot of what the device reports. Power is signed: + charging, - discharging."""

    power_w: float
    mode: str
    actual_mode: str
    soc_pct: float
    chargeable_wh: float
    dischargeable_wh: float
    #: Cumulative energy counters (Wh); None when the binding's device has none (SunSpec 802).
    charged_wh: float | None
    discharged_wh: float | None
    reserve_pct: float
    #: An independent meter's reading at the same moment (+ charging), when one is declared.
    meter_power_w: float | None = None
    #: What the device says it is doing, read from the device itself (ECHONET Lite 0xCF,
    #: working operation status: "charging", "discharging", "standby", "auto", ...): a witness
    #: of execution beside the power. None when the binding reads none (``actual_mode`` then
    #: repeats the mode setting).
    working_status: str | None = None
    #: When the device was asked for ``power_w`` and when the reply carrying ``meter_power_w``
    #: arrived (bounding the time between the two readings), in seconds on the run's monotonic
    #: clock (the event loop's time; real seconds, not device seconds). Two witnesses of a
    #: ramping power agree only when read at nearly one instant: a lost attempt between them (a
    #: timeout and a retry) puts seconds between the readings. None when the binding does not
    #: time its readings.
    power_read_at: float | None = None
    meter_read_at: float | None = None

    @property
    def meter_lag_s(self) -> float | None:
        """Seconds of the run's clock between the device's power reading and the meter's
        (None when either is not timed or there is no meter reading)."""
        if self.meter_power_w is None or self.power_read_at is None or self.meter_read_at is None:
            return None
        return abs(self.meter_read_at - self.power_read_at)


@dataclass(frozen=True)
class Sample:
    """A status read at ``elapsed_s`` seconds after the sampling window opened."""

    elapsed_s: float
    time: float
    status: Status
    #: The evidence record of this reading (its ``seq``), for findings that cite it.
    record: int | None = None


@dataclass(frozen=True)
class CommunicationReport:
    discovered: bool
    instances: tuple[str, ...]
    get_map: tuple[int, ...]
    set_map: tuple[int, ...]
    problems: tuple[str, ...]


#: The water heater's witnesses of its heating: instantaneous power (ECHONET Lite 0x84), the
#: cumulative energy counter (0x85) and the heating status (0xB2).
POWER_WITNESS = "power"
ENERGY_WITNESS = "energy"
STATUS_WITNESS = "status"
HEATER_WITNESSES: tuple[str, ...] = (POWER_WITNESS, ENERGY_WITNESS, STATUS_WITNESS)


@dataclass(frozen=True)
class HeaterStatus:
    """One snapshot of a water heater: electric power (W), whether the heat pump is heating,
    whether an auxiliary (gas) heater is burning (None if the device has none), and the
    cumulative electric energy counter (Wh)."""

    power_w: float
    heating: bool
    aux_on: bool | None
    energy_wh: float
    #: The readings the device gave (of :data:`HEATER_WITNESSES`); one it does not offer reads
    #: 0 / False above and is never judged.
    witnesses: tuple[str, ...] = HEATER_WITNESSES


@dataclass(frozen=True)
class HeaterSample:
    """A water-heater status read at ``elapsed_s`` device seconds into a sampling window, with the
    device's local time of day (seconds after midnight) it was taken at."""

    elapsed_s: float
    tod_s: float
    status: HeaterStatus
    #: The sequence number of the evidence record of this reading (None: not recorded).
    record: int | None = None


@dataclass(frozen=True)
class SchemaFinding:
    """A document from the device (or its maker's server) that broke the binding's JSON Schema."""

    where: str  # e.g. "POST /reports" or "GET /elapi/v1/devices/battery1/properties"
    document: Any  # the offending document as received (parsed JSON, or the raw text)
    errors: tuple[str, ...]


@dataclass(frozen=True)
class StructuredDataReport:
    """*-1.2: what the device sent on the server path, and which documents broke the schema."""

    #: Documents from the device checked against the schema, by kind (e.g. "report": 40).
    documents: Mapping[str, int]
    findings: tuple[SchemaFinding, ...]


@dataclass(frozen=True)
class ProbeResult:
    """One security check on the server path (*-3.2, *-ID): did the device do the safe thing?"""

    kind: str
    refused: bool  # True: the device refused / did not execute / did not disclose
    detail: str
