"""The options of one run, and the checks that refuse a run before anything starts.

Both front ends build a :class:`RunOptions`: the pytest plugin from its command-line options, and
``drready run`` before it starts pytest (or one child run per class). Every refusal is a
:class:`~drready.errors.UsageError` (a :class:`~drready.errors.ProfileError` is one), said in one
line; the plugin hands it to pytest as ``pytest.UsageError``, the CLI prints it and exits with
status 2. Faults are known only through :mod:`drready.simulation`.
"""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drready.clock import real_now
from drready.echonet.codec import ECHONET_LITE_PORT
from drready.echonet.transport import route_source_address, udp_port_problem
from drready.errors import ProfileError, UsageError
from drready.impairment import Impairment, ImpairmentError, parse_impairment
from drready.jcstar import JcStarList, load_list
from drready.model import Binding, DeviceClass, Topology
from drready.profile import Profile, default_profile, load_profile
from drready.simulation import UnknownFaultError, faults, get_fault

__all__ = [
    "RunOptions",
    "binding_option",
    "check_run",
    "echonet_local_address",
    "fault_binding",
    "fault_class",
    "impairment_option",
    "jcstar_list",
    "new_run_id",
    "resolve_profile",
    "run_options",
    "suites_dir",
]

#: The binding a fault of another binding's simulator selects, most specific first.
_FAULT_BINDINGS = (Binding.MODBUS, Binding.OPENADR3, Binding.WEBAPI)


@dataclass(frozen=True)
class RunOptions:
    """What the user asked of one run (one device class)."""

    profile_path: Path | None
    simulate: DeviceClass | None
    faults: tuple[str, ...]
    report_dir: Path
    time_scale: float
    run_id: str
    #: ``--impair``: replaces the profile's ``[impair]`` table. ``None``: the profile's own;
    #: :data:`NO_IMPAIRMENT` (``--impair none``): none, whatever the profile says.
    impair: Impairment | None = None
    #: ``--jcstar-list``: IPA's list of JC-STAR compliant products, to check *-3.1 against
    #: (overrides the profile's ``[jcstar] list_file``).
    jcstar_list: Path | None = None
    #: ``--unit K``: the simulated unit K (1, 2, ...) of a run of several units
    #: (``drready run --units N``), with an identity of its own (:meth:`Profile.as_unit`).
    unit: int | None = None
    #: ``--seed N``: the simulators start from a state drawn from N (:mod:`drready.run.seeding`);
    #: None, their fixed start.
    seed: int | None = None
    #: ``--binding NAME``: the built-in simulator's binding (its built-in profile
    #: ``CLASS-BINDING``); with a profile file, the binding it must declare. ``None``: the
    #: profile's own, or the one a fault selects (:func:`fault_binding`).
    binding: Binding | None = None

    def __post_init__(self) -> None:
        if self.simulate is not None and not isinstance(self.simulate, DeviceClass):
            object.__setattr__(self, "simulate", DeviceClass(self.simulate))
        if self.binding is not None and not isinstance(self.binding, Binding):
            object.__setattr__(self, "binding", Binding(self.binding))
        object.__setattr__(self, "faults", tuple(self.faults))

    @property
    def active(self) -> bool:
        """Whether the run names a device at all (the plugin is inert otherwise)."""
        return self.profile_path is not None or self.simulate is not None

    @property
    def report_path(self) -> Path:
        return self.report_dir / "report.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "profile_path": None if self.profile_path is None else str(self.profile_path),
            "simulate": None if self.simulate is None else str(self.simulate),
            "faults": list(self.faults),
            "report_dir": str(self.report_dir),
            "time_scale": self.time_scale,
            "run_id": self.run_id,
            "impair": None if self.impair is None else self.impair.to_json(),
            "jcstar_list": None if self.jcstar_list is None else str(self.jcstar_list),
            **({} if self.unit is None else {"unit": self.unit}),
            **({} if self.seed is None else {"seed": self.seed}),
            **({} if self.binding is None else {"binding": str(self.binding)}),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> RunOptions:
        profile_path = document.get("profile_path")
        simulate = document.get("simulate")
        impair = document.get("impair")
        listed = document.get("jcstar_list")
        binding = document.get("binding")
        return cls(
            profile_path=None if profile_path is None else Path(profile_path),
            simulate=None if simulate is None else DeviceClass(simulate),
            faults=tuple(document.get("faults", ())),
            report_dir=Path(document["report_dir"]),
            time_scale=float(document.get("time_scale", 1.0)),
            run_id=str(document["run_id"]),
            impair=None if impair is None else Impairment(**impair),
            jcstar_list=None if listed is None else Path(listed),
            unit=document.get("unit"),
            seed=document.get("seed"),
            binding=None if binding is None else Binding(binding),
        )


def new_run_id() -> str:
    """Date and time (UTC) and a random tag: sorts by time, and two runs started in the same
    second still differ."""
    stamp = datetime.fromtimestamp(real_now(), UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def suites_dir() -> Path:
    """The conformance suites (the package ``drready.suites``): found as files, never imported,
    whether from a checkout's ``suites/`` or installed."""
    spec = importlib.util.find_spec("drready.suites")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise UsageError("the conformance suites (drready.suites) are not installed")
    return Path(next(iter(locations)))


def run_options(
    *,
    profile_path: str | Path | None,
    simulate: str | None,
    faults: Sequence[str],
    report_dir: str | Path | None,
    time_scale: float | None,
    run_id: str | None,
    impair: str | None = None,
    jcstar_list: str | Path | None = None,
    unit: int | None = None,
    seed: int | None = None,
    binding: str | None = None,
) -> RunOptions:
    """Options with the defaults filled in: a new run ID, ``reports/<run-id>``, scale 1."""
    if unit is not None and unit < 1:
        raise UsageError(f"--unit: expected a unit number >= 1, got {unit}")
    if time_scale is not None and not time_scale >= 1:
        raise UsageError(f"--time-scale: expected a number >= 1, got {time_scale}")
    run_id = run_id or new_run_id()
    return RunOptions(
        profile_path=Path(profile_path) if profile_path else None,
        simulate=DeviceClass(simulate) if simulate else None,
        faults=tuple(faults),
        report_dir=Path(report_dir) if report_dir else Path("reports") / run_id,
        time_scale=time_scale or 1.0,
        run_id=run_id,
        impair=impairment_option(impair),
        jcstar_list=Path(jcstar_list) if jcstar_list else None,
        unit=unit,
        seed=seed,
        binding=binding_option(binding),
    )


def binding_option(text: str | None) -> Binding | None:
    """The value of ``--binding`` (None when not given), refused in one line naming the values
    it expects."""
    if text is None:
        return None
    try:
        return Binding(text)
    except ValueError:
        expected = ", ".join(str(b) for b in Binding)
        raise UsageError(f"--binding: expected one of {expected}, got {text!r}") from None


def jcstar_list(options: RunOptions, profile: Profile) -> JcStarList | None:
    """IPA's list the run checks *-3.1 against: ``--jcstar-list``, else the profile's
    ``[jcstar] list_file``; None when neither names one. A list that cannot be read is refused
    (:class:`UsageError`, one line naming the file)."""
    path = options.jcstar_list or profile.jcstar_list_file()
    if path is None:
        return None
    where = "--jcstar-list" if options.jcstar_list else f"{profile.source}: jcstar.list_file"
    if not path.is_file():
        raise UsageError(f"{where}: {path}: no such file (IPA's list, .xlsx or .csv)")
    return load_list(path)


#: ``--impair none``: no impairment, whatever the profile's ``[impair]`` says.
NO_IMPAIRMENT = Impairment()


def impairment_option(text: str | None) -> Impairment | None:
    """The value of ``--impair`` (None when not given), refused in one line naming the field
    and the value it expects."""
    if text is None:
        return None
    try:
        return parse_impairment(text) or NO_IMPAIRMENT
    except ImpairmentError as exc:
        raise UsageError(f"--impair: {exc}") from None


def resolve_profile(options: RunOptions) -> Profile:
    """The effective profile: file or built-in, forced onto the simulator by --simulate."""
    if options.profile_path is not None:
        profile = load_profile(options.profile_path)
        if options.simulate is not None:
            if profile.device.device_class != options.simulate:
                raise ProfileError(
                    "device.class",
                    f"'{options.simulate}' to match --simulate",
                    path=options.profile_path,
                    got=profile.device.device_class,
                )
            profile = profile.simulated()
        if options.binding is not None and Binding(profile.device.binding) != options.binding:
            raise ProfileError(
                "device.binding",
                f"'{options.binding}' to match --binding",
                path=options.profile_path,
                got=str(profile.device.binding),
            )
    else:
        device_class = options.simulate or DeviceClass.BATTERY
        binding = options.binding or fault_binding(options.faults)
        profile = default_profile(device_class, binding)
    if options.unit is not None:
        if not profile.is_simulated:
            raise UsageError(
                f"{profile.source or '--units'}: several units of one profile are simulated "
                "units (add --simulate CLASS); an external device is one unit: give one "
                "--profile per device"
            )
        profile = profile.as_unit(options.unit)
    if options.impair is not None:
        impair = options.impair if options.impair.active else None
        profile = replace(profile, impair=impair)
    if options.time_scale != 1.0:
        if profile.is_simulated:
            raise ProfileError(
                "echonet.address",
                "an external device for --time-scale (the built-in "
                "simulator already runs in virtual time)",
                path=options.profile_path,
                got="simulator",
            )
        try:
            profile = profile.on_device_clock(options.time_scale)
        except ValueError as exc:
            raise UsageError(f"--time-scale: {exc}") from None
    return profile


def fault_binding(names: Sequence[str]) -> Binding:
    """A fault of another binding's simulator selects that binding by itself: the SunSpec one
    (Modbus, with its meter), or a server-topology shape (OpenADR 3, ECHONET Lite Web API).
    Unknown names are left for :func:`check_run` to refuse."""
    if not names:
        return Binding.ECHONET
    known = faults()
    bindings = {known[name].binding for name in names if name in known}
    for binding in _FAULT_BINDINGS:
        if binding in bindings:
            return binding
    return Binding.ECHONET


def fault_class(names: Sequence[str]) -> DeviceClass:
    """The one device class the named faults belong to (``drready run --fault NAME`` alone)."""
    first: dict[DeviceClass, str] = {}
    for name in names:
        try:
            fault = get_fault(name)
        except UnknownFaultError as exc:
            raise UsageError(f"--fault: {exc}") from None
        first.setdefault(fault.device_class, name)
    if not first:
        raise UsageError("--fault: no fault named")
    if len(first) > 1:
        which = " and ".join(f"{name} is a {cls} fault" for cls, name in first.items())
        raise UsageError(f"--fault: {which}; one run tests one device class")
    return next(iter(first))


def echonet_local_address(profile: Profile) -> str:
    """The harness's own address on an ECHONET Lite bench: ``[echonet] local_address``, or the
    one this machine routes to the device from (the wildcard address when there is no route)."""
    settings = profile.echonet
    if settings is None:
        raise UsageError("an ECHONET Lite device needs an [echonet] table in the profile")
    return settings.local_address or route_source_address(settings.address, settings.port)


def check_run(options: RunOptions, profile: Profile) -> None:
    """Refuse, before anything runs, a run that could test nothing or names an unknown fault."""
    where = f"{profile.source}: " if profile.source else ""
    binding = Binding(profile.device.binding)
    topology = profile.device.topology
    link = {
        Binding.MODBUS: profile.modbus,
        Binding.OPENADR3: profile.openadr3,
        Binding.WEBAPI: profile.webapi,
    }.get(binding, profile.echonet)
    if link is None or not profile.device.supports(topology):
        raise UsageError(
            f"{where}device.topologies: the {profile.device.device_class} is tested over the "
            f"{topology} topology ({binding.protocol}), which this profile does not declare; "
            "nothing would be tested"
        )

    for name in options.faults:
        try:
            fault = get_fault(name)
        except UnknownFaultError as exc:
            raise UsageError(f"--fault: {exc}") from None
        if fault.device_class != profile.device.device_class:
            raise UsageError(
                f"--fault {name}: a {fault.device_class} fault, but the device class is "
                f"{profile.device.device_class}"
            )
        if fault.binding != binding:
            raise UsageError(
                f"--fault {name}: a fault of the {fault.binding} simulator, but this run uses "
                f"the {binding} binding"
            )
    if options.faults and not profile.is_simulated:
        raise UsageError("--fault needs the built-in simulator, not an external device")
    if options.seed is not None:
        if not profile.is_simulated:
            raise UsageError("--seed: only a simulated run has a starting state to vary")
        from drready.run.seeding import check_ranges  # seeding imports this module's layer

        check_ranges(profile)
    settings = profile.echonet
    if (
        binding == Binding.ECHONET
        and topology == Topology.GATEWAY
        and settings is not None
        and not profile.is_simulated
    ):
        # The harness binds UDP 3610 as a controller does; a port already taken is said here,
        # in one line, rather than as a failure of every test.
        local = echonet_local_address(profile)
        problem = udp_port_problem(local, ECHONET_LITE_PORT)
        if problem is not None:
            raise UsageError(
                f"{where}echonet: {problem}; stop it or set echonet.local_address to another "
                "address of this machine"
            )
