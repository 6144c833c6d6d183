"""Device profiles: the implementation conformance statement of one DRready device.

A profile is a TOML file (parsed with :mod:`tomllib`) validated against the JSON Schema
``drready/profile/profile.schema.json`` (Draft 2020-12) and turned into frozen dataclasses.
The schema is the one place the limits live: every dataclass validates itself against its part
of the schema on construction, so a profile built in Python obeys the same rules as one read
from a file. Errors come out as :class:`ProfileError`, one human line each.

The package: :mod:`.sections` (the parts), :mod:`.device_profile` (the whole), :mod:`.loader`
(reading TOML and the built-ins), :mod:`.schema` (the JSON Schema and its messages).
"""

from __future__ import annotations

from drready.echonet.mapping import (
    BATTERY_MAPPING_DEFAULTS,
    WATER_HEATER_MAPPING_DEFAULTS,
    EpcMapping,
)
from drready.errors import ProfileError
from drready.profile.device_profile import (
    SCHEMA_VERSION,
    Profile,
)
from drready.profile.loader import (
    default_profile,
    load_profile,
    parse_profile,
)
from drready.profile.operator_section import OperatorSettings
from drready.profile.sections import (
    DEVICE_CLASSES,
    DRREADY_MAX_REQUEST_INTERVAL_S,
    DRREADY_MAX_RESPONSE_S,
    SERVER_BINDINGS,
    SIMULATOR_ADDRESS,
    TOPOLOGIES,
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

__all__ = [
    "BATTERY_MAPPING_DEFAULTS",
    "DEVICE_CLASSES",
    "DRREADY_MAX_REQUEST_INTERVAL_S",
    "DRREADY_MAX_RESPONSE_S",
    "SCHEMA_VERSION",
    "SERVER_BINDINGS",
    "SIMULATOR_ADDRESS",
    "TOPOLOGIES",
    "WATER_HEATER_MAPPING_DEFAULTS",
    "DeviceInfo",
    "EchonetSettings",
    "EpcMapping",
    "JcStar",
    "MeterSettings",
    "ModbusSettings",
    "OpenAdrSettings",
    "OperatorSettings",
    "Profile",
    "ProfileError",
    "ProtocolInfo",
    "Ratings",
    "SimulationRanges",
    "Timings",
    "Tolerances",
    "WaterHeaterSpec",
    "WebApiSettings",
    "default_profile",
    "load_profile",
    "parse_profile",
]
