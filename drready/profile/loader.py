"""Reading profiles: TOML text, a file, or the built-in profile of a reference simulator."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from drready.echonet.mapping import (
    EpcMapping,
)
from drready.errors import ProfileError
from drready.impairment import Impairment
from drready.model import Binding, DeviceClass
from drready.profile.device_profile import Profile
from drready.profile.operator_section import OperatorSettings
from drready.profile.schema import render_value, validate_document
from drready.profile.sections import (
    DEVICE_CLASSES,
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

_TOML_POSITION = re.compile(r"\s*\((at line \d+, column \d+|at end of document)\)$")


def _profile_from_document(doc: Mapping[str, Any], source: Path | None) -> Profile:
    device = dict(doc["device"])
    echonet = dict(doc.get("echonet", {}))
    mapping = {name: EpcMapping(**item) for name, item in echonet.pop("mapping", {}).items()}
    jcstar = doc.get("jcstar")
    return Profile(
        source=source,
        device=DeviceInfo(device_class=device.pop("class"), **device),
        echonet=EchonetSettings(**echonet) if "echonet" in doc else None,
        ratings=Ratings(**doc["ratings"]) if "ratings" in doc else None,
        timings=Timings(**doc.get("timings", {})),
        tolerances=Tolerances(**doc.get("tolerances", {})),
        jcstar=None if jcstar is None else JcStar(**jcstar),
        protocol=ProtocolInfo(**doc.get("protocol", {})),
        mapping=mapping,
        water_heater=WaterHeaterSpec(**doc["water_heater"]) if "water_heater" in doc else None,
        modbus=ModbusSettings(**doc["modbus"]) if "modbus" in doc else None,
        meter=MeterSettings(**doc["meter"]) if "meter" in doc else None,
        openadr3=OpenAdrSettings(**doc["openadr3"]) if "openadr3" in doc else None,
        webapi=WebApiSettings(**doc["webapi"]) if "webapi" in doc else None,
        impair=Impairment(**doc["impair"]) if "impair" in doc else None,
        operator=OperatorSettings(**doc["operator"]) if "operator" in doc else None,
        simulation=SimulationRanges(**doc["simulation"]) if "simulation" in doc else None,
    )


def _syntax_problem(exc: tomllib.TOMLDecodeError) -> str:
    # tomllib (3.11) gives the position only inside its message: "Invalid value (at line 3,
    # column 9)"; move it to the front, where a person looks first.
    message = str(exc)
    found = _TOML_POSITION.search(message)
    if found is None:
        return f"invalid TOML: {message}"
    detail = message[: found.start()]
    return f"invalid TOML {found.group(1)}: {detail[:1].lower()}{detail[1:]}"


def parse_profile(text: str, path: Path | None = None) -> Profile:
    """Parse and validate a profile given as TOML text; ``path`` is for messages and reports."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError("", "valid TOML", path=path, problem=_syntax_problem(exc)) from None
    try:
        doc = validate_document(raw, None, "")
        return _profile_from_document(doc, path)
    except ProfileError as error:
        raise error.with_path(path) from None


def load_profile(path: str | Path) -> Profile:
    """Read a profile file (UTF-8 TOML)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProfileError("", "a TOML profile file", path=path, problem="file not found") from None
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start})"
        raise ProfileError("", "UTF-8 TOML", path=path, problem=problem) from None
    except OSError as exc:
        problem = f"cannot read the file ({exc.strerror})"
        raise ProfileError("", "a TOML profile file", path=path, problem=problem) from None
    return parse_profile(text, path)


def default_profile(
    device_class: DeviceClass | str, binding: Binding | str = Binding.ECHONET
) -> Profile:
    """The built-in profile of the reference simulator of a device class (and binding)."""
    if device_class not in DEVICE_CLASSES:
        expected = "one of " + ", ".join(render_value(name) for name in DEVICE_CLASSES)
        raise ProfileError("device.class", expected, render_value(device_class))
    name = str(device_class) if binding == Binding.ECHONET else f"{device_class}-{binding}"
    return _builtin_profile(name)


@cache
def _builtin_profile(name: str) -> Profile:
    resource = files("drready.profile") / "builtin" / f"{name}.toml"
    if not resource.is_file():
        problem = f"no built-in profile {name!r}"
        expected = "a class (and binding) with a built-in profile"
        raise ProfileError("device.class", expected, render_value(name), problem=problem)
    return parse_profile(resource.read_text(encoding="utf-8"))
