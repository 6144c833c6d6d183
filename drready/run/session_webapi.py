"""Open a DUT over the server topology, ECHONET Lite Web API shape: the harness calls the
maker's cloud.

``webapi.base_url = "simulator"``: the simulator backend's maker cloud (TLS with a per-run CA,
real loopback sockets) in front of its reference device of the profile's class (ECHONET Lite,
in-process, virtual time), the named faults of this shape applied to the cloud (and any ECHONET
Lite fault to the device behind it). Otherwise the maker's cloud at ``base_url``, on the real clock,
trusting ``ca_file`` if given, the device ``device_id`` or the first of the class's
``deviceType`` in its device list. What a user can get wrong (the URL, the CA file, the
credentials, a cloud that does not answer) is one line of :class:`drready.run.session.SessionError`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from drready.bindings.webapi_device import (
    WebApiBatteryBinding,
    WebApiWaterHeaterBinding,
    class_code,
)
from drready.bindings.webapi_probes import WebApiProbes
from drready.bindings.webapi_transport import WebApiTransport
from drready.clock import Clock, LoopRunner, RealClock, VirtualClock
from drready.device import DeviceUnderTest, facade_for
from drready.echonet.properties import load_class
from drready.errors import SessionError
from drready.evidence import EvidenceLog
from drready.impairment import attempts_under, link_impairment
from drready.model import Binding, DeviceClass
from drready.profile import Profile, WebApiSettings
from drready.run.session_specs import MakerCloudSession, device_spec, run_on
from drready.simulation import MakerCloudSpec, StartState, backend, get_fault
from drready.webapi.client import (
    SchemaViolation,
    WebApiClient,
    WebApiError,
    WebApiHttpError,
)

#: The longest the opening exchange with a cloud may take (token, device list, description).
OPEN_TIMEOUT_S = 60.0


def _error(text: str) -> Exception:
    return SessionError(" ".join(text.split()))


def open_webapi(
    profile: Profile,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock | None,
    start: StartState | None = None,
) -> DeviceUnderTest:
    settings = profile.webapi
    if settings is None:
        raise _error("the ECHONET Lite Web API binding needs a [webapi] table in the profile")
    if profile.device.device_class != DeviceClass.BATTERY and profile.water_heater is None:
        raise _error("a water heater needs a [water_heater] table in the profile")
    if profile.is_simulated:
        return _open_simulated(
            profile, settings, faults, evidence_path, clock or VirtualClock(), start
        )
    return _open_real(profile, settings, evidence_path, clock or RealClock())


def _keepalive_s(profile: Profile) -> float:
    """Keep the connection to the cloud across two reads a poll interval apart (a water heater
    is read every 5 minutes): a TLS handshake per read cost more than the read."""
    return max(120.0, 2 * profile.timings.poll_interval_s)


def _open_simulated(
    profile: Profile,
    settings: WebApiSettings,
    faults: Sequence[str],
    evidence_path: Path | None,
    clock: Clock,
    start: StartState | None = None,
) -> DeviceUnderTest:
    echonet = profile.echonet
    if echonet is None:
        raise _error("the simulated maker cloud fronts the device of the profile's [echonet] table")
    cloud_faults = tuple(n for n in faults if get_fault(n).binding is Binding.WEBAPI)
    device_faults = [n for n in faults if n not in cloud_faults]
    runner = LoopRunner(clock)
    with ExitStack() as opening:
        opening.callback(runner.close)
        evidence = EvidenceLog(clock.now, evidence_path)
        # What the facade's close releases; on a failure here, the opening releases it.
        owned = opening.enter_context(ExitStack())
        code = class_code(profile.device.device_class)
        # An opaque key, as a maker's cloud gives its devices: never the serial number.
        device_id = settings.device_id or f"{load_class(code).short_name}-1"
        cloud = backend().maker_cloud(
            MakerCloudSpec(
                device=device_spec(profile, device_faults, start=start),
                device_id=device_id,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                faults=cloud_faults,
                request_timeout_s=echonet.request_timeout_s,
                retries=echonet.retries,
            )
        )
        owned.callback(run_on(runner, cloud.aclose))
        runner.run(cloud.start())
        client = WebApiClient(
            cloud.url,
            settings.client_id,
            settings.client_secret,
            ssl=cloud.client_ssl_context(),
            evidence=evidence,
            timeout_s=settings.request_timeout_s,
            attempts=attempts_under(profile.impair, 1),
            impairment=link_impairment(profile.impair, "webapi"),
            keepalive_s=_keepalive_s(profile),
        )
        plain = [cloud.plain_url] if cloud.plain_url else []
        binding = _binding(profile, client, device_id, runner, plain)
        opening.callback(binding.close)
        _check_device(runner, client, device_id, settings)
        control = MakerCloudSession(cloud, owned.pop_all())
        dut = facade_for(runner, binding, profile, evidence, control)
        opening.pop_all()
    return dut


def _open_real(
    profile: Profile, settings: WebApiSettings, evidence_path: Path | None, clock: Clock
) -> DeviceUnderTest:
    context: Any = True
    if settings.ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            message = f"webapi.ca_file {settings.ca_file}: cannot load it as a CA: {exc}"
            raise _error(message) from None
    runner = LoopRunner(clock)
    with ExitStack() as opening:
        opening.callback(runner.close)
        evidence = EvidenceLog(clock.now, evidence_path)
        try:
            client = WebApiClient(
                settings.base_url,
                settings.client_id,
                settings.client_secret,
                ssl=context,
                evidence=evidence,
                timeout_s=settings.request_timeout_s,
                attempts=attempts_under(profile.impair, 1),
                impairment=link_impairment(profile.impair, "webapi"),
                keepalive_s=_keepalive_s(profile),
            )
        except ValueError as exc:
            raise _error(f"webapi.base_url: {exc}") from None
        device_type = load_class(class_code(profile.device.device_class)).short_name
        device_id = settings.device_id or _find_device(runner, client, device_type, settings)
        binding = _binding(profile, client, device_id, runner, ())
        if settings.device_id is not None:
            _check_device(runner, client, device_id, settings)
        dut = facade_for(runner, binding, profile, evidence)
        opening.pop_all()
    return dut


def _binding(
    profile: Profile,
    client: WebApiClient,
    device_id: str,
    runner: LoopRunner,
    plain_urls: Sequence[str],
) -> WebApiBatteryBinding | WebApiWaterHeaterBinding:
    device_class = profile.device.device_class
    instance = profile.echonet.instance if profile.echonet is not None else 1
    transport = WebApiTransport(
        client, device_id, class_code(device_class), profile.mapping, instance=instance
    )
    probes = WebApiProbes(client, device_id, plain_urls=plain_urls)

    def close() -> None:
        async def close_all() -> None:
            await probes.close()
            await client.close()

        if not runner.loop.is_closed():
            runner.run(close_all())

    if device_class == DeviceClass.BATTERY:
        return WebApiBatteryBinding(transport, probes, profile.mapping, close=close)
    assert profile.water_heater is not None
    return WebApiWaterHeaterBinding(
        transport, probes, device_class, profile.water_heater, profile.mapping, close=close
    )


def _opening(runner: LoopRunner, call: Any, settings: WebApiSettings, what: str) -> Any:
    """Run one opening exchange, bounded, its failures as one-line session errors."""
    where = settings.base_url if settings.base_url != "simulator" else "the simulated cloud"
    try:
        return runner.run(asyncio.wait_for(call, OPEN_TIMEOUT_S))
    except WebApiHttpError as exc:
        if exc.status in (401, 403):
            raise _error(
                f"the maker's cloud at {where} refused the client credentials "
                f"(webapi.client_id / client_secret): {exc}"
            ) from None
        raise _error(f"{what} at {where}: {exc}") from None
    except SchemaViolation as exc:
        raise _error(f"{what} at {where}: {exc}") from None
    except WebApiError as exc:
        raise _error(f"cannot reach the maker's cloud at {where}: {exc}") from None
    except TimeoutError:
        raise _error(f"{what} at {where}: no answer within {OPEN_TIMEOUT_S:.0f} s") from None


def _find_device(
    runner: LoopRunner, client: WebApiClient, device_type: str, settings: WebApiSettings
) -> str:
    devices = _opening(runner, client.devices(), settings, "reading the device list")
    for device in devices:
        if device.get("deviceType") == device_type:
            return str(device["id"])
    listed = ", ".join(f"{d.get('id')} ({d.get('deviceType')})" for d in devices) or "none"
    raise _error(
        f"the maker's cloud lists no {device_type} device (it lists: {listed}); give "
        "webapi.device_id"
    )


def _check_device(
    runner: LoopRunner, client: WebApiClient, device_id: str, settings: WebApiSettings
) -> None:
    """The cloud answers for the device: its description, with our credentials."""
    _opening(runner, client.description(device_id), settings, f"reading device {device_id!r}")
