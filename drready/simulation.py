"""Where the harness finds its reference simulators, and what it may ask of them.

The harness never imports the simulators. They register a :class:`SimulatorBackend` under the
``drready.simulators`` entry-point group (see ``pyproject.toml``); :func:`backend` loads it on
first use. This module owns the small interface the simulators implement, as pymodbus's
datastore owns the context its simulators fill: the named faults, and (for the run layer) the
factories that build a simulated device.

A run with no simulators installed can still test real devices; only ``--simulate`` and
``--fault`` need a backend, and say so in one line when there is none.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from drready.errors import UsageError
from drready.model import Binding, DeviceClass

if TYPE_CHECKING:
    # Types only: the specs name the ECHONET Lite package's EPC mapping and endpoints, and this
    # module never runs protocol code.
    from drready.echonet.mapping import EpcMapping
    from drready.echonet.transport import DatagramEndpoint, DatagramHandler

__all__ = [
    "ENTRY_POINT_GROUP",
    "BatteryRatings",
    "DeviceIdentity",
    "DeviceSpec",
    "EchonetDeviceSimulator",
    "FaultInfo",
    "MakerCloudSimulator",
    "MakerCloudSpec",
    "RunningSimulator",
    "SimulatorBackend",
    "StandInSimulator",
    "StartState",
    "SunSpecBatterySimulator",
    "SunSpecSpec",
    "UnknownFaultError",
    "VenSimulator",
    "VenSpec",
    "WaterHeaterFigures",
    "backend",
    "faults",
    "faults_for",
    "get_fault",
]

#: The entry-point group a simulator package registers its backend under.
ENTRY_POINT_GROUP = "drready.simulators"


@dataclass(frozen=True)
class FaultInfo:
    """A named simulator fault as the harness sees it: which device it bends, over which
    binding, and exactly which requirements it must make fail (the detection matrix's row)."""

    name: str
    device_class: DeviceClass
    requirements: tuple[str, ...]
    description: str
    binding: Binding = Binding.ECHONET
    #: How many simulated units its failure needs to be seen (``drready run --units N``): a
    #: fault that shows only across units (two units sharing an identity) is 2.
    units: int = 1

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "name": self.name,
            "device_class": str(self.device_class),
            "requirements": list(self.requirements),
            "description": self.description,
        }
        if self.binding is not Binding.ECHONET:
            doc["binding"] = str(self.binding)
        if self.units > 1:
            doc["units"] = self.units
        return doc


class UnknownFaultError(UsageError, KeyError):
    """A fault name no simulator registered."""

    def __str__(self) -> str:
        return str(self.args[0])


# -- what the harness asks a simulator to be ----------------------------------------------------
# Plain values: the run layer reads them off a profile, ``drready simulate`` off its options. A
# field left None is the reference device's own figure.


@dataclass(frozen=True)
class DeviceIdentity:
    """The identity a simulated device takes on (None: the reference device's own)."""

    serial_number: str | None = None
    product_code: str | None = None
    #: Three bytes (ECHONET Lite 0x8A).
    manufacturer_code: bytes | None = None


@dataclass(frozen=True)
class BatteryRatings:
    """A battery's data-sheet figures, which size the reference battery's physics."""

    capacity_wh: float
    max_charge_w: float
    max_discharge_w: float
    min_charge_w: float
    min_discharge_w: float


@dataclass(frozen=True)
class WaterHeaterFigures:
    """A water heater's published figures (times are seconds after local midnight)."""

    rated_heating_power_w: float
    daily_heating_wh: float
    dr_share: float
    acceptance_windows_s: tuple[tuple[float, float], ...]
    evaluation_start_s: float
    night_heating_s: tuple[float, float]
    tank_litres: float | None = None


@dataclass(frozen=True)
class StartState:
    """Where a seeded run's simulators start (``drready run --seed N``), drawn by the run layer
    within the profile's ``[simulation]`` ranges. The default is the reference devices' fixed
    start: every run without a seed starts from it."""

    #: The battery's state of charge (%); None: the reference battery's own (50 %).
    soc_pct: float | None = None
    #: A water heater's mean tank temperature (°C): its stored heat above the cold inlet;
    #: None: the reference heater's own start (the night heating done, the morning draw-off
    #: taken).
    tank_temp_c: float | None = None
    #: The independent meter's noise: each reading is off by a uniform error within ± this (W).
    meter_noise_w: float = 0.0
    #: How long an ECHONET Lite node (or a SunSpec server) takes to answer a request (s).
    reply_latency_s: float = 0.0
    #: How long a maker's cloud takes to answer an HTTP request (s).
    http_latency_s: float = 0.0
    #: Seeds the simulators' own draws (the meter's noise), so a seeded run repeats exactly.
    noise_seed: int = 0

    @property
    def fixed(self) -> bool:
        """Whether this is the reference devices' fixed start (no seed)."""
        return self == StartState()

    def to_json(self) -> dict[str, object]:
        return {
            "soc_pct": self.soc_pct,
            "tank_temp_c": self.tank_temp_c,
            "meter_noise_w": self.meter_noise_w,
            "reply_latency_ms": round(self.reply_latency_s * 1000.0, 3),
            "http_latency_ms": round(self.http_latency_s * 1000.0, 3),
        }


@dataclass(frozen=True)
class DeviceSpec:
    """An ECHONET Lite reference device: its class and, optionally, the device a profile
    declares (figures, identity, EPC mapping), with the named faults it must carry."""

    device_class: DeviceClass
    faults: tuple[str, ...] = ()
    #: The ECHONET Lite instance code of the device object.
    instance: int = 1
    identity: DeviceIdentity = field(default_factory=DeviceIdentity)
    ratings: BatteryRatings | None = None
    water_heater: WaterHeaterFigures | None = None
    #: The battery's own mode (None: the reference battery's).
    own_mode: str | None = None
    comms_loss_timeout_s: float | None = None
    #: Where the DRready items live (None: the standard defaults of the class).
    mapping: Mapping[str, EpcMapping] | None = None
    #: Unit id of an independent SunSpec meter beside a battery (None: no meter).
    meter_unit: int | None = None
    #: The device's clock runs this many times faster than the event loop's.
    time_scale: float = 1.0
    #: Where a water heater's clock starts, in its local time (naive); None: the wall clock.
    start_local_time: datetime | None = None
    #: The port the device sends its responses to (None: the request's source port; 3610:
    #: the ECHONET Lite port, as many stacks do whatever port the request came from).
    reply_port: int | None = None
    #: Where its state starts (``--seed``); the default is the reference device's fixed start.
    start: StartState = field(default_factory=StartState)

    def __post_init__(self) -> None:
        # A profile's "battery" becomes the member, so simulators compare members.
        object.__setattr__(self, "device_class", DeviceClass(self.device_class))


@dataclass(frozen=True)
class SunSpecSpec:
    """The SunSpec reference battery on Modbus TCP (pymodbus's null modem in a run)."""

    faults: tuple[str, ...] = ()
    ratings: BatteryRatings | None = None
    identity: DeviceIdentity = field(default_factory=DeviceIdentity)
    unit_id: int = 1
    comms_loss_timeout_s: float | None = None
    storage_model: int = 802
    sunspec_marker: bool = True
    #: Unit id of the independent meter on the same server (None: no meter).
    meter_unit: int | None = None
    #: Where its state starts (``--seed``); the default is the reference device's fixed start.
    start: StartState = field(default_factory=StartState)


@dataclass(frozen=True)
class VenSpec:
    """The reference VEN in front of a reference device: what it polls and how it logs in."""

    device: DeviceSpec
    base_url: str
    client_id: str
    client_secret: str
    ven_name: str
    #: The CA the VEN trusts for the servicer (PEM); None for a plain-HTTP servicer.
    ca_pem: bytes | None
    poll_interval_s: float
    report_interval_s: float
    comms_loss_timeout_s: float
    #: The VEN's own named faults (binding openadr3); the device's are in ``device``.
    faults: tuple[str, ...] = ()
    #: The VEN's ECHONET Lite requests to its device.
    request_timeout_s: float = 2.0
    retries: int = 2


@dataclass(frozen=True)
class MakerCloudSpec:
    """The reference maker cloud in front of a reference device."""

    device: DeviceSpec
    #: The key the cloud lists the device under.
    device_id: str
    client_id: str
    client_secret: str
    #: The cloud's own named faults (binding webapi); the device's are in ``device``.
    faults: tuple[str, ...] = ()
    #: The cloud's ECHONET Lite requests to its device.
    request_timeout_s: float = 2.0
    retries: int = 2


# -- what a running simulator offers ------------------------------------------------------------


class RunningSimulator(Protocol):
    """What every simulator offers (the facade's ``SimulatorControl``, structurally)."""

    async def start(self) -> object: ...
    def restart(self) -> None:
        """Power-cycle the device (called inside the loop)."""
        ...

    def check(self) -> None:
        """Raise the first error the simulator hit (a bug of its own, never a device fault)."""
        ...

    def close(self) -> None: ...


class EchonetDeviceSimulator(RunningSimulator, Protocol):
    """An ECHONET Lite reference device on the endpoint it was given."""

    @property
    def address(self) -> tuple[str, int]: ...

    @property
    def meter_address(self) -> tuple[str, int] | None:
        """Where its independent meter serves SunSpec (None: it has none)."""
        ...


class SunSpecBatterySimulator(RunningSimulator, Protocol):
    """The SunSpec battery (and its meter, same server) on Modbus TCP."""

    @property
    def address(self) -> tuple[str, int]: ...


class StandInSimulator(Protocol):
    """A server-topology simulator (a VEN, a maker's cloud) and the device behind it. Its
    close is a coroutine: it lets connections go on the loop it ran on."""

    async def start(self) -> object: ...
    def restart(self) -> None: ...
    def check(self) -> None: ...
    async def aclose(self) -> None: ...


class VenSimulator(StandInSimulator, Protocol):
    @property
    def last_error(self) -> str:
        """What last went wrong talking to the servicer ("" if nothing)."""
        ...

    @property
    def ven(self) -> Any:
        """The VEN itself, for tests that read its log."""
        ...


class MakerCloudSimulator(StandInSimulator, Protocol):
    @property
    def url(self) -> str: ...

    @property
    def plain_url(self) -> str | None:
        """The cloud's plain-HTTP address, when a fault serves one."""
        ...

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the cloud's per-run CA."""
        ...

    @property
    def cloud(self) -> Any:
        """The cloud itself, for tests that read what it executed or bend its config."""
        ...


class SimulatorBackend(Protocol):
    """What a simulator package offers the harness. Each factory applies the spec's named
    faults itself; nothing is started until the returned object's ``start``."""

    @property
    def faults(self) -> Mapping[str, FaultInfo]:
        """Every named fault, by name."""
        ...

    def echonet_device(
        self,
        spec: DeviceSpec,
        open_endpoint: Callable[[DatagramHandler], Awaitable[DatagramEndpoint]],
    ) -> EchonetDeviceSimulator:
        """A reference device of ``spec.device_class`` on the endpoint ``open_endpoint`` opens."""
        ...

    def sunspec_battery(self, spec: SunSpecSpec, host: str, port: int) -> SunSpecBatterySimulator:
        """The SunSpec battery serving on ``host:port`` (pymodbus's null modem host in a run)."""
        ...

    def openadr_ven(self, spec: VenSpec) -> VenSimulator: ...

    def maker_cloud(self, spec: MakerCloudSpec) -> MakerCloudSimulator: ...


@cache
def backend() -> SimulatorBackend:
    """The installed simulator backend (the first registered under :data:`ENTRY_POINT_GROUP`)."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    if not found:
        raise UsageError(
            "no simulators are installed (entry-point group drready.simulators); "
            "reinstall drready, or test a real device with --profile"
        )
    loaded: SimulatorBackend = found[0].load()
    return loaded


def faults() -> Mapping[str, FaultInfo]:
    """Every named fault of the installed simulators, by name."""
    return backend().faults


def get_fault(name: str) -> FaultInfo:
    """The fault called ``name``; :class:`UnknownFaultError` (a usage error) lists the rest."""
    known = faults()
    try:
        return known[name]
    except KeyError:
        raise UnknownFaultError(
            f"unknown fault {name!r} (known: {', '.join(sorted(known))})"
        ) from None


def faults_for(device_class: DeviceClass | str) -> list[FaultInfo]:
    """The faults that bend ``device_class``'s simulators, over any binding."""
    return [f for f in faults().values() if f.device_class == device_class]
