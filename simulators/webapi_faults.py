"""Named faults of the server topology, ECHONET Lite Web API shape: a maker's cloud that lets
one of its protections go (:class:`drready.simulators.maker_cloud.MakerCloudConfig`), or that
answers a document broken.

Each bends the :class:`~drready.simulators.maker_cloud_runtime.SimulatedMakerCloud` of a run before
its cloud starts; the device behind the cloud stays the golden one, so only the server path's
requirements fail. Registered into :data:`drready.simulators.fault_registry.FAULTS` when this
module is imported. The battery has every fault (prefix ``webapi_``); the water heaters
(``hp_webapi_``, ``hy_webapi_``) the three that stand for the others (the cloud's protections
do not depend on the device class, and each fault is a whole run of the detection matrix). Each
lists exactly what it must make fail:

* control served without authentication, any credentials accepted, a replayed request executed,
  plain HTTP served, no rate limit on bad credentials: ``*-3.2``;
* the unit's identity served to anyone: ``*-ID`` and ``*-3.2`` (the same probe is both);
* the device list answered malformed: ``*-1.2`` only. The harness reads the list only to find
  a device it was not told (a real cloud without ``webapi.device_id``) and in the *-1.2 sweep,
  so the finding (recorded, with the document in the evidence) is the only thing that fails;
  the device's own documents (description, properties) stay valid, so every DR operation works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from drready.simulators.fault_registry import fault

from drready.model import Binding, DeviceClass
from drready.webapi import validation as schemas

if TYPE_CHECKING:
    from drready.simulators.maker_cloud import MakerCloudConfig


class MakerCloudSimulator(Protocol):
    """What a Web API fault bends: the simulated maker cloud's configuration, before it starts
    (declared here so that the fault table does not import the runtime that applies it)."""

    binding: Binding
    config: MakerCloudConfig


#: The faults the water heaters get too (one per requirement the cloud can make fail).
_WATER_HEATER_FAULTS = frozenset({"control_without_auth", "identity_public", "malformed_documents"})
#: Requirement prefixes and fault-name prefixes of the three classes.
_CLASSES = {
    "battery": ("BAT", "webapi_"),
    "heatpump": ("HP", "hp_webapi_"),
    "hybrid": ("HY", "hy_webapi_"),
}


def _config(sim: MakerCloudSimulator, name: str) -> MakerCloudConfig:
    if getattr(sim, "binding", None) is not Binding.WEBAPI:
        raise TypeError(
            f"fault {name!r} bends the simulated maker cloud (ECHONET Lite Web API), not a "
            f"{type(sim).__name__}"
        )
    return sim.config


def _no_auth(config: MakerCloudConfig) -> None:
    config.require_auth = False


def _any_credentials(config: MakerCloudConfig) -> None:
    config.check_credentials = False


def _replay(config: MakerCloudConfig) -> None:
    config.replay_guard = False


def _plain_http(config: MakerCloudConfig) -> None:
    config.also_plain_http = True


def _no_rate_limit(config: MakerCloudConfig) -> None:
    config.rate_limit = False


def _identity_public(config: MakerCloudConfig) -> None:
    config.identity_public = True


def _malformed(config: MakerCloudConfig) -> None:
    config.malformed_documents = frozenset({schemas.DEVICES})


#: (name, requirement suffixes, description, what it bends)
_FAULTS: tuple[tuple[str, tuple[str, ...], str, Callable[[MakerCloudConfig], None]], ...] = (
    (
        "control_without_auth",
        ("3.2",),
        "The maker's cloud serves the Web API, control included, to a request without a token "
        "(or with a wrong one): a PUT from anyone is executed.",
        _no_auth,
    ),
    (
        "any_credentials",
        ("3.2",),
        "The cloud issues a token for any client secret and accepts any bearer token, so wrong "
        "credentials control the device (and no guess ever counts as a failure).",
        _any_credentials,
    ),
    (
        "replay_accepted",
        ("3.2",),
        "The cloud has no replay guard: a control request sent again as it was (same "
        "X-Request-Id, Date and token) is executed again.",
        _replay,
    ),
    (
        "plain_http",
        ("3.2",),
        "Besides HTTPS the cloud serves the whole Web API over plain HTTP on a second port, "
        "where control and tokens travel in clear text.",
        _plain_http,
    ),
    (
        "no_rate_limit",
        ("3.2",),
        "The cloud never locks out a peer that keeps presenting wrong client secrets "
        "(JC-STAR S1.1-04): guessing can go on for ever.",
        _no_rate_limit,
    ),
    (
        "identity_public",
        ("ID", "3.2"),
        "The cloud serves the unit's identity (manufacturer in the device list, serialNumber, "
        "productCode, id) to a peer without any token.",
        _identity_public,
    ),
    (
        "malformed_documents",
        ("1.2",),
        "The cloud's device list breaks its schema (no hasMore, limit as a string); the "
        "device's own documents stay valid.",
        _malformed,
    ),
)


def _register(device_class: str, prefix: str, requirement: str) -> None:
    for name, suffixes, description, bend in _FAULTS:
        if device_class != DeviceClass.BATTERY and name not in _WATER_HEATER_FAULTS:
            continue
        full = prefix + name

        def apply(
            sim: MakerCloudSimulator,
            full: str = full,
            bend: Callable[[MakerCloudConfig], None] = bend,
        ) -> None:
            bend(_config(sim, full))

        fault(
            full,
            device_class,
            tuple(f"{requirement}-{s}" for s in suffixes),
            description,
            binding="webapi",
        )(apply)


for _class, (_requirement, _prefix) in _CLASSES.items():
    _register(_class, _prefix, _requirement)
