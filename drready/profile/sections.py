"""The sections of a device profile, each a frozen dataclass that validates itself against
its part of the JSON Schema on construction. It runs past ~500 lines as one module because the
sections share their checks (hosts, floats, register points) and each is short."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING, Any

from drready.errors import ProfileError
from drready.model import Binding, DeviceClass, Topology
from drready.profile.schema import render_value, validate_document
from drready.timeofday import tod_seconds

if TYPE_CHECKING:
    from drready.modbus.pointmap import RegisterPoint


# Plain strings, not the members: argparse shows its choices with repr().
#: REQUIREMENTS.md, "Device classes".
DEVICE_CLASSES: tuple[str, ...] = tuple(member.value for member in DeviceClass)


#: GW経由型 and サーバー経由.
TOPOLOGIES: tuple[str, ...] = tuple(member.value for member in Topology)


#: Bindings of the server topology (the others reach the device over the gateway topology).
SERVER_BINDINGS: tuple[str, ...] = tuple(
    member.value for member in Binding if member.topology is Topology.SERVER
)


SIMULATOR_ADDRESS = "simulator"  # reserved host name: the built-in in-process simulator


# DRready BAT-2.1 note 2: requests are received and executed at intervals of 30 minutes or less;
# BAT-2.2 (harness reading): the target is reached within the declared response time, ≤ 30 min.
# The schema carries these as the maxima of timings.request_interval_s and timings.response_s.
DRREADY_MAX_RESPONSE_S = 1800


DRREADY_MAX_REQUEST_INTERVAL_S = 1800


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def _floats(obj: object, *names: str) -> None:
    # TOML integers are fine where a number is asked; store one type so equality is simple.
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            object.__setattr__(obj, name, float(value))


@dataclass(frozen=True)
class DeviceInfo:
    """What the device is and the identity it declares (checked by the *-ID tests).

    Built from strings (a TOML file, ``dataclasses.replace``) or members alike: once validated,
    ``device_class``, ``topologies`` and ``binding`` hold the :mod:`drready.model` members.
    """

    device_class: DeviceClass
    topologies: tuple[Topology, ...]
    name: str = ""
    manufacturer_code: str | None = None
    product_code: str | None = None
    serial_number: str | None = None
    #: Battery own modes (0xDA names) the suite may use; the first is the normal one. Which
    #: modes count as the device's "own" is a harness reading of BAT-2.6, so it is declared.
    own_modes: tuple[str, ...] = ("auto", "standby")
    #: How the harness reaches the device: "echonet" or "modbus" (SunSpec) over the gateway
    #: topology; "openadr3" or "webapi" over the server topology.
    binding: Binding = Binding.ECHONET

    @property
    def topology(self) -> Topology:
        """The topology the binding tests: gateway or server."""
        return self.binding.topology

    def __post_init__(self) -> None:
        if isinstance(self.topologies, list):
            object.__setattr__(self, "topologies", tuple(self.topologies))
        if isinstance(self.own_modes, list):
            object.__setattr__(self, "own_modes", tuple(self.own_modes))
        validate_document(self.to_json(), "device", "device")
        # Valid now, so each is one of the members' values.
        object.__setattr__(self, "device_class", DeviceClass(self.device_class))
        object.__setattr__(self, "topologies", tuple(Topology(t) for t in self.topologies))
        object.__setattr__(self, "binding", Binding(self.binding))
        if self.manufacturer_code is not None:
            # One spelling, so a declared code compares equal to the one read from EPC 0x8A.
            object.__setattr__(self, "manufacturer_code", "0x" + self.manufacturer_code[2:].upper())

    def supports(self, topology: Topology | str) -> bool:
        return topology in self.topologies

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            # str(): the members' values, so the JSON is the same whichever was given.
            "class": str(self.device_class),
            "topologies": [str(t) for t in self.topologies],
            "name": self.name,
            "own_modes": list(self.own_modes),
        }
        if self.binding != Binding.ECHONET:
            doc["binding"] = str(self.binding)
        for name in ("manufacturer_code", "product_code", "serial_number"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        return doc


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    labels = text.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        return False  # digits and dots that ipaddress refused: a broken IPv4 literal
    return all(_HOST_LABEL.match(label) for label in labels)


@dataclass(frozen=True)
class EchonetSettings:
    """How the harness, as the home gateway, reaches the device over ECHONET Lite."""

    address: str
    port: int = 3610  # ECHONET Lite: UDP (and TCP) port 3610
    instance: int = 1
    multicast_discovery: bool = True
    request_timeout_s: float = 2.0
    retries: int = 2
    #: The harness's own address on the bench, where it binds UDP 3610 and joins 224.0.23.0
    #: (None: the address this system routes to the device from).
    local_address: str | None = None
    #: Where the built-in simulator sends its responses: "source" (the request's source port)
    #: or 3610 (the ECHONET Lite port, whatever the request came from). Both habits conform.
    simulator_reply_port: str | int = "source"

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "echonet", "echonet")
        # JSON Schema has formats for IPs and host names but no "one of them" message a person
        # can read, so the address is checked here.
        if not _is_host(self.address):
            raise ProfileError(
                "echonet.address",
                f'an IPv4/IPv6 address, a host name or "{SIMULATOR_ADDRESS}"',
                json.dumps(self.address),
            )
        if self.local_address is not None:
            try:
                ipaddress.ip_address(self.local_address)
            except ValueError:
                raise ProfileError(
                    "echonet.local_address",
                    "an IPv4 or IPv6 address of this machine",
                    json.dumps(self.local_address),
                ) from None
        _floats(self, "request_timeout_s")

    @property
    def reply_port(self) -> int | None:
        """The port the simulator answers to (None: the request's source port)."""
        return None if self.simulator_reply_port == "source" else int(self.simulator_reply_port)

    def to_json(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        if doc["local_address"] is None:
            del doc["local_address"]
        return doc


@dataclass(frozen=True)
class ModbusSettings:
    """How the harness reaches a SunSpec device over Modbus TCP (device.binding = "modbus")."""

    address: str
    port: int = 502
    unit_id: int = 1
    request_timeout_s: float = 2.0
    retries: int = 2
    base_address: int | None = None  # None: look for SunS at 40000, 0 and 50000
    heartbeat_s: float = 10.0
    #: False: not a SunSpec device; every logical point comes from ``points``.
    sunspec: bool = True
    storage_model: int | None = None  # 802 or 124; None: 802 if the device has it, else 124
    #: Register map overriding (or, without SunSpec, giving) logical points.
    points: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "modbus", "modbus")
        _check_host("modbus.address", self.address)
        _floats(self, "request_timeout_s", "heartbeat_s")

    def register_points(self) -> dict[str, RegisterPoint]:
        return _register_points(self.points)

    def to_json(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        for absent in ("base_address", "storage_model"):
            if doc[absent] is None:
                del doc[absent]
        doc["points"] = {k: dict(v) for k, v in self.points.items()}
        if not doc["points"]:
            del doc["points"]
        return doc


@dataclass(frozen=True)
class OpenAdrSettings:
    """The harness as an OpenADR 3 DR servicer (VTN) the device polls (binding "openadr3")."""

    ven: str = "simulator"  # or "external": a real VEN connects to the harness
    version: str = "3.1.0"  # the OpenADR 3 release whose official schemas the servicer uses
    bind: str = "127.0.0.1"
    port: int = 0
    tls: bool = True
    server_name: str = "localhost"
    client_id: str = "drready-ven"
    client_secret: str = "drready-simulated-ven-secret"
    ven_name: str = "drready-ven"
    poll_interval_s: float = 10.0
    report_interval_s: float = 10.0

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "openadr3", "openadr3")
        _check_host("openadr3.bind", self.bind)
        _floats(self, "poll_interval_s", "report_interval_s")

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class WebApiSettings:
    """The maker's cloud, which the harness calls as an ECHONET Lite Web API client."""

    base_url: str = SIMULATOR_ADDRESS
    client_id: str = "drready"
    client_secret: str = "drready-simulated-cloud-secret"
    ca_file: str | None = None
    device_id: str | None = None
    request_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "webapi", "webapi")
        if self.base_url != SIMULATOR_ADDRESS and not re.match(r"^https?://[^/\s]+", self.base_url):
            raise ProfileError(
                "webapi.base_url",
                f'an http(s):// URL or "{SIMULATOR_ADDRESS}"',
                json.dumps(self.base_url),
            )
        _floats(self, "request_timeout_s")

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def _register_points(points: Mapping[str, Mapping[str, Any]]) -> dict[str, RegisterPoint]:
    from drready.modbus.pointmap import RegisterPoint

    return {name: RegisterPoint(**dict(spec)) for name, spec in points.items()}


@dataclass(frozen=True)
class MeterSettings:
    """An independent power meter (SunSpec model 203 over Modbus TCP); + when charging."""

    address: str
    port: int = 502
    unit_id: int = 2
    request_timeout_s: float = 2.0
    retries: int = 2
    model: int = 203
    accuracy_pct: float = 1.0
    accuracy_w: float = 20.0
    #: A meter that is not a SunSpec meter: its registers (power_w, + when the battery charges).
    points: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "meter", "meter")
        _check_host("meter.address", self.address)
        _floats(self, "request_timeout_s", "accuracy_pct", "accuracy_w")

    def register_points(self) -> dict[str, RegisterPoint]:
        return _register_points(self.points)

    def allowed_w(self, reading_w: float) -> float:
        """How far the device's reported power may be from this meter's reading."""
        return max(self.accuracy_w, self.accuracy_pct / 100.0 * abs(reading_w))

    def to_json(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["points"] = {k: dict(v) for k, v in self.points.items()}
        if not doc["points"]:
            del doc["points"]
        return doc


def _check_host(key: str, address: str) -> None:
    if not _is_host(address):
        raise ProfileError(
            key, f'an IPv4/IPv6 address, a host name or "{SIMULATOR_ADDRESS}"', json.dumps(address)
        )


@dataclass(frozen=True)
class Ratings:
    """Data-sheet ratings of a storage battery (BAT-2.2: targets beyond them are not exceeded)."""

    max_charge_w: float
    max_discharge_w: float
    capacity_wh: float
    min_charge_w: float = 0.0
    min_discharge_w: float = 0.0

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "ratings", "ratings")
        for direction in ("charge", "discharge"):
            low, high = getattr(self, f"min_{direction}_w"), getattr(self, f"max_{direction}_w")
            if low > high:
                raise ProfileError(
                    f"ratings.min_{direction}_w",
                    f"a number ≤ ratings.max_{direction}_w ({render_value(high)})",
                    render_value(low),
                )
        _floats(self, *(f.name for f in fields(self)))

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class WaterHeaterSpec:
    """What the maker publishes about a water heater's DR (*-2.1, *-2.2) and its evaluation day.

    Times are "HH:MM" in the device's local time; the ``*_s`` properties give seconds after local
    midnight, the unit of every start time the suites and bindings use.
    """

    rated_heating_power_w: float
    daily_heating_wh: float
    published_dr_share: float
    evaluation_start_time: str
    acceptance_windows: tuple[tuple[str, str], ...]
    night_heating: tuple[str, str] = ("23:00", "07:00")
    tank_litres: float | None = None

    def __post_init__(self) -> None:
        windows = tuple(tuple(w) for w in self.acceptance_windows)
        object.__setattr__(self, "acceptance_windows", windows)
        object.__setattr__(self, "night_heating", tuple(self.night_heating))
        validate_document(self.to_json(), "waterHeater", "water_heater")
        for i, (first, last) in enumerate(self.acceptance_windows):
            if tod_seconds(first) > tod_seconds(last):
                raise ProfileError(
                    f"water_heater.acceptance_windows[{i}]",
                    f'a window [first, last] with first ≤ last (first is "{first}")',
                    f'"{last}"',
                )
        _floats(self, "rated_heating_power_w", "daily_heating_wh", "published_dr_share")
        _floats(self, "tank_litres")

    @property
    def evaluation_start_s(self) -> int:
        return tod_seconds(self.evaluation_start_time)

    @property
    def windows_s(self) -> tuple[tuple[int, int], ...]:
        return tuple((tod_seconds(a), tod_seconds(b)) for a, b in self.acceptance_windows)

    @property
    def night_heating_s(self) -> tuple[int, int]:
        return tod_seconds(self.night_heating[0]), tod_seconds(self.night_heating[1])

    def accepts(self, start_s: float) -> bool:
        """Is ``start_s`` inside a published acceptance window?"""
        return any(a <= start_s <= b for a, b in self.windows_s)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rated_heating_power_w": self.rated_heating_power_w,
            "daily_heating_wh": self.daily_heating_wh,
            "published_dr_share": self.published_dr_share,
            "evaluation_start_time": self.evaluation_start_time,
            "acceptance_windows": [list(w) for w in self.acceptance_windows],
            "night_heating": list(self.night_heating),
        }
        if self.tank_litres is not None:
            doc["tank_litres"] = self.tank_litres
        return doc


@dataclass(frozen=True)
class Timings:
    """Declared device timings, in seconds of the device's clock (see Profile.on_device_clock)."""

    response_s: float = 300.0
    dr_end_restore_s: float = 60.0
    comms_loss_timeout_s: float = 1800.0  # BAT-2.7: no standard value; 30 min, the DR slot
    request_interval_s: float = 1800.0  # BAT-2.1 note 2: 30 minutes or less
    poll_interval_s: float = 10.0

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "timings", "timings")
        _floats(self, *(f.name for f in fields(self)))

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Tolerances:
    """Allowed error between what was measured and what was asked."""

    power_w: float = 100.0
    power_pct: float = 5.0
    energy_pct: float = 5.0
    energy_wh: float = 50.0
    time_s: float = 60.0

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "tolerances", "tolerances")
        _floats(self, *(f.name for f in fields(self)))

    def power_allowed_w(self, target_w: float) -> float:
        """Allowed |measured - target|: an absolute floor, so small targets are not held to 0 W."""
        return max(self.power_w, self.power_pct / 100.0 * abs(target_w))

    def energy_allowed_wh(self, target_wh: float) -> float:
        return max(self.energy_wh, self.energy_pct / 100.0 * abs(target_wh))

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class JcStar:
    """Declared JC-STAR label (*-3.1): reported as declared, or checked against IPA's list of
    compliant products when the run is given one (``list_file`` or ``--jcstar-list``).

    ``maker``, ``product`` and ``model`` say how the device appears on IPA's list (事業者名,
    製品名, 型番); ``product`` and ``model`` default to ``[device] name`` and ``product_code``
    (:meth:`Profile.jcstar_identity`). ``list_file`` is relative to the profile's file."""

    label: str
    level: int
    valid_until: date
    maker: str | None = None
    product: str | None = None
    model: str | None = None
    list_file: str | None = None

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "jcstar", "jcstar")
        if isinstance(self.valid_until, str):
            object.__setattr__(self, "valid_until", date.fromisoformat(self.valid_until))

    def expired(self, on: date) -> bool:
        """The label is valid through its valid_until day."""
        return on > self.valid_until

    def to_json(self) -> dict[str, Any]:
        until = self.valid_until
        doc: dict[str, Any] = {
            "label": self.label,
            "level": self.level,
            "valid_until": until.isoformat() if isinstance(until, date) else until,
        }
        for name in ("maker", "product", "model", "list_file"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        return doc


@dataclass(frozen=True)
class ProtocolInfo:
    """Declared protocol (*-3.3); None means not declared."""

    name: str = "ECHONET Lite"
    version: str | None = None
    appendix_release: str | None = None

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "protocol", "protocol")

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }
