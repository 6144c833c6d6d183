"""The :class:`Profile`: the sections together, the effective EPC mapping, and the rules
between sections."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drready.echonet.mapping import (
    BATTERY_MAPPING_DEFAULTS,
    WATER_HEATER_MAPPING_DEFAULTS,
    EpcMapping,
)
from drready.errors import ProfileError
from drready.impairment import Impairment
from drready.model import Binding, DeviceClass
from drready.profile.operator_section import OperatorSettings
from drready.profile.schema import validate_document
from drready.profile.sections import (
    SIMULATOR_ADDRESS,
    DeviceInfo,
    EchonetSettings,
    JcStar,
    MeterSettings,
    ModbusSettings,
    OpenAdrSettings,
    ProtocolInfo,
    Ratings,
    Timings,
    Tolerances,
    WaterHeaterSpec,
    WebApiSettings,
)
from drready.profile.simulation_section import SimulationRanges

SCHEMA_VERSION = 1


_MAPPING_DEFAULTS: Mapping[str, Mapping[str, EpcMapping]] = {
    DeviceClass.BATTERY: BATTERY_MAPPING_DEFAULTS,
    **WATER_HEATER_MAPPING_DEFAULTS,
}


@dataclass(frozen=True)
class Profile:
    """A device profile. ``mapping`` is the effective EPC mapping: the class defaults overlaid
    with what the profile declares; always empty when the device has no ``[echonet]`` settings."""

    source: Path | None
    device: DeviceInfo
    echonet: EchonetSettings | None
    ratings: Ratings | None
    timings: Timings
    tolerances: Tolerances
    jcstar: JcStar | None
    protocol: ProtocolInfo
    mapping: Mapping[str, EpcMapping] = field(default_factory=dict, hash=False)
    water_heater: WaterHeaterSpec | None = None
    modbus: ModbusSettings | None = None
    meter: MeterSettings | None = None
    openadr3: OpenAdrSettings | None = None
    webapi: WebApiSettings | None = None
    #: What the harness does to its own links ([impair], or ``drready run --impair``).
    impair: Impairment | None = None
    #: The ranges a seeded run draws the simulators' start from ([simulation]); None: the
    #: defaults of :class:`SimulationRanges`.
    simulation: SimulationRanges | None = None
    #: How operator steps are carried out ([operator]); None: a person at the terminal.
    operator: OperatorSettings | None = None
    # How many times faster than real time the device's clock runs (on_device_clock): reports
    # must say the timings were scaled.
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        # Without [echonet] there is nothing to map; dropping the mapping (rather than refusing
        # it) lets dataclasses.replace(profile, echonet=None) work on an effective mapping.
        merged: dict[str, EpcMapping] = {}
        if self.echonet is not None:
            merged = {**_MAPPING_DEFAULTS.get(self.device.device_class, {}), **self.mapping}
        object.__setattr__(self, "mapping", MappingProxyType(merged))
        if not (math.isfinite(self.time_scale) and self.time_scale > 0):
            raise ValueError(f"time_scale must be a finite number > 0, got {self.time_scale!r}")
        try:
            # The sections checked themselves; this checks the rules between them.
            validate_document(self._document(), None, "")
        except ProfileError as error:
            raise error.with_path(self.source) from None

    @property
    def is_simulated(self) -> bool:
        binding = self.device.binding
        if binding is Binding.MODBUS:
            return self.modbus is not None and self.modbus.address == SIMULATOR_ADDRESS
        if binding is Binding.OPENADR3:
            return self.openadr3 is not None and self.openadr3.ven == SIMULATOR_ADDRESS
        if binding is Binding.WEBAPI:
            return self.webapi is not None and self.webapi.base_url == SIMULATOR_ADDRESS
        return self.echonet is not None and self.echonet.address == SIMULATOR_ADDRESS

    def simulated(self) -> Profile:
        """This profile with every link pointed at the built-in simulators (``--simulate``)."""
        profile = self
        if profile.echonet is not None:
            profile = replace(profile, echonet=replace(profile.echonet, address=SIMULATOR_ADDRESS))
        if profile.modbus is not None:
            profile = replace(profile, modbus=replace(profile.modbus, address=SIMULATOR_ADDRESS))
        if profile.meter is not None:
            profile = replace(profile, meter=replace(profile.meter, address=SIMULATOR_ADDRESS))
        if profile.openadr3 is not None:
            profile = replace(profile, openadr3=replace(profile.openadr3, ven=SIMULATOR_ADDRESS))
        if profile.webapi is not None:
            profile = replace(profile, webapi=replace(profile.webapi, base_url=SIMULATOR_ADDRESS))
        return profile

    def as_unit(self, unit: int) -> Profile:
        """The simulated unit number ``unit`` (1, 2, ...) of this profile's model
        (``drready run --units N``): the same device with an identity of its own. Its serial
        number is this one's with the trailing number advanced by ``unit - 1`` (SIM0000001,
        SIM0000002, ...; one without a trailing number gets ``-<unit>``, none at all
        ``UNIT<unit>``), which the simulator derives its identification number (0x83) from;
        its Web API device ID is ``<device_id or class>-<unit>``."""
        if unit < 1:
            raise ValueError(f"unit must be >= 1, got {unit}")
        device = self.device
        serial = device.serial_number
        if serial is None:  # the simulator's own serial, the same in every unit otherwise
            serial = f"UNIT{unit:08d}"
        else:
            trailing = re.search(r"\d+$", serial)
            if trailing is not None:
                digits = trailing.group()
                serial = serial[: trailing.start()] + str(int(digits) + unit - 1).zfill(len(digits))
            else:
                serial = f"{serial}-{unit}"
        if len(serial) > 12:  # 0x8D holds 12 ASCII bytes
            serial = serial[-12:]
        profile = replace(self, device=replace(device, serial_number=serial))
        if profile.webapi is not None:
            base = profile.webapi.device_id or str(device.device_class)
            webapi = replace(profile.webapi, device_id=f"{base}-{unit}")
            profile = replace(profile, webapi=webapi)
        return profile

    def on_device_clock(self, n: float) -> Profile:
        """A copy for a device whose clock runs n times faster than real time.

        Timings and tolerances stay in seconds of the device's clock, as declared; the DUT facade
        divides every wait by ``time_scale`` and multiplies every elapsed time by it, so energy
        and response times are judged on the device's clock. The ECHONET Lite request timeout is
        not scaled: a round trip on the LAN does not speed up with the device's clock.
        """
        if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n) or n < 1:
            # A slower clock would push timings past the DRready 30-minute ceilings.
            raise ValueError(f"time scale must be a finite number ≥ 1, got {n!r}")
        return replace(self, time_scale=self.time_scale * n)

    def jcstar_identity(self) -> tuple[str | None, str | None, str | None]:
        """How the device appears on IPA's JC-STAR list: (maker, product, model) from
        ``[jcstar]``, product and model defaulting to ``[device] name`` and ``product_code``."""
        jc = self.jcstar
        if jc is None:
            return None, None, None
        product = jc.product or self.device.name or None
        return jc.maker, product, jc.model or self.device.product_code

    def jcstar_list_file(self) -> Path | None:
        """``[jcstar] list_file``, relative to the profile's file (None when not given)."""
        if self.jcstar is None or self.jcstar.list_file is None:
            return None
        path = Path(self.jcstar.list_file)
        if self.source is not None and not path.is_absolute():
            path = self.source.parent / path
        return path

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, in the TOML's shape with every default filled in, for reports."""
        doc = self._document()
        doc["source"] = None if self.source is None else str(self.source)
        doc["time_scale"] = self.time_scale
        return doc

    def _document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "device": self.device.to_json()}
        if self.echonet is not None:
            mapping = {name: item.to_json() for name, item in sorted(self.mapping.items())}
            doc["echonet"] = {**self.echonet.to_json(), "mapping": mapping}
        if self.ratings is not None:
            doc["ratings"] = self.ratings.to_json()
        if self.water_heater is not None:
            doc["water_heater"] = self.water_heater.to_json()
        if self.modbus is not None:
            doc["modbus"] = self.modbus.to_json()
        if self.meter is not None:
            doc["meter"] = self.meter.to_json()
        if self.openadr3 is not None:
            doc["openadr3"] = self.openadr3.to_json()
        if self.webapi is not None:
            doc["webapi"] = self.webapi.to_json()
        if self.impair is not None:
            doc["impair"] = self.impair.to_json()
        if self.simulation is not None:
            doc["simulation"] = self.simulation.to_json()
        if self.operator is not None:
            doc["operator"] = self.operator.to_json()
        doc["timings"] = self.timings.to_json()
        doc["tolerances"] = self.tolerances.to_json()
        if self.jcstar is not None:
            doc["jcstar"] = self.jcstar.to_json()
        doc["protocol"] = self.protocol.to_json()
        return doc
