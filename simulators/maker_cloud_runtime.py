"""A reference device behind the reference maker's cloud: the server topology's simulator for
the ECHONET Lite Web API shape (what
:meth:`drready.simulators.registry.ReferenceBackend.maker_cloud` builds from a
:class:`~drready.simulation.MakerCloudSpec`).

:class:`SimulatedMakerCloud` puts a :class:`~drready.simulators.maker_cloud.MakerCloud` (TLS with
its own per-run trustme CA) in front of an ECHONET Lite reference device on its own in-memory
link (:class:`~drready.simulators.device_link.DeviceLink`). The device's DRready items in
maker-specific EPCs are served under the names :mod:`drready.webapi.maker` gives them. Named
faults of this shape (:mod:`drready.simulators.webapi_faults`) bend
:attr:`SimulatedMakerCloud.config` before the cloud starts.
"""

from __future__ import annotations

import ssl
from typing import Any

from drready.simulators.device_link import DeviceLink
from drready.simulators.faults import get_fault
from drready.simulators.maker_cloud import MakerCloud, MakerCloudConfig
from drready.simulators.maker_cloud_backends import EchonetBridgeBackend

from drready.model import Binding
from drready.simulation import MakerCloudSpec

__all__ = ["SimulatedMakerCloud"]


class SimulatedMakerCloud:
    """The reference device and the cloud in front of it."""

    #: Which binding the simulator serves (the Web API faults check it).
    binding = Binding.WEBAPI

    def __init__(self, spec: MakerCloudSpec) -> None:
        self.spec = spec
        self.device_id = spec.device_id
        self.link = DeviceLink(
            spec.device, request_timeout_s=spec.request_timeout_s, retries=spec.retries
        )
        #: What faults bend, before :meth:`start`.
        self.config = MakerCloudConfig(
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            latency_s=spec.device.start.http_latency_s,
        )
        self._cloud: MakerCloud | None = None
        for name in spec.faults:
            fault = get_fault(name)
            if fault.binding is not Binding.WEBAPI:
                raise ValueError(f"fault {name!r} is not a fault of the maker cloud")
            fault.apply(self)

    @property
    def cloud(self) -> Any:
        return self._cloud

    def _running(self) -> MakerCloud:
        if self._cloud is None:
            raise RuntimeError("the maker cloud is not started")
        return self._cloud

    @property
    def url(self) -> str:
        url = self._running().url
        if url is None:
            raise RuntimeError("the maker cloud is not started")
        return url

    @property
    def plain_url(self) -> str | None:
        return self._running().plain_url

    def client_ssl_context(self) -> ssl.SSLContext:
        return self._running().client_ssl_context()

    async def start(self) -> object:
        if self._cloud is None:
            await self.link.start()
            link = self.link
            backend = await EchonetBridgeBackend.open(
                link.gateway, link.address, link.eoj, mapping=self.spec.device.mapping or {}
            )
            self._cloud = MakerCloud({self.device_id: backend}, self.config)
        await self._cloud.start()
        return self

    def restart(self) -> None:
        """Power-cycle the device behind the cloud (the cloud keeps running)."""
        self.link.restart()

    def check(self) -> None:
        self.link.check()
        if self._cloud is not None:
            self._cloud.check()

    async def aclose(self) -> None:
        cloud, self._cloud = self._cloud, None
        try:
            if cloud is not None:
                await cloud.close()
        finally:
            self.link.close()
