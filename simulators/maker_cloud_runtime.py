"""A reference device behind the reference maker's cloud: the server topology's simulator for
the ECHONET Lite Web API shape.

:class:`SimulatedMakerCloud` puts a :class:`~drready.simulators.maker_cloud.MakerCloud` (TLS with
its own per-run trustme CA) in front of an ECHONET Lite reference device started by
:func:`drready.run.session.start_echonet_simulator`, bridged through the harness's in-memory
Gateway. The device's DRready items in maker-specific EPCs are served under the names
:mod:`drready.webapi.maker` gives them. Named faults of this shape
(:mod:`drready.simulators.webapi_faults`) bend :attr:`SimulatedMakerCloud.config` before the cloud
starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drready.simulators.maker_cloud import MakerCloud, MakerCloudConfig
from drready.simulators.maker_cloud_backends import EchonetBridgeBackend

from drready.clock import LoopRunner
from drready.echonet.codec import EOJ
from drready.echonet.mapping import EpcMapping

if TYPE_CHECKING:
    from drready.run.session import EchonetSide

__all__ = ["SimulatedMakerCloud"]


class SimulatedMakerCloud:
    """The reference device and the cloud in front of it (the run's ``SimulatorControl``)."""

    binding = "webapi"

    def __init__(
        self,
        echonet: EchonetSide,
        runner: LoopRunner,
        *,
        device_id: str,
        eoj: EOJ,
        mapping: Mapping[str, EpcMapping],
        config: MakerCloudConfig | None = None,
    ) -> None:
        self.echonet = echonet
        self.runner = runner
        self.device_id = device_id
        self.eoj = eoj
        self.mapping = dict(mapping)
        #: What faults bend, before :meth:`start`.
        self.config = config or MakerCloudConfig()
        self.cloud: MakerCloud | None = None
        self._closed = False

    @property
    def device(self) -> Any:
        """The reference device's model (what ECHONET Lite faults bend)."""
        return getattr(self.echonet.simulator, "device", None)

    @property
    def url(self) -> str:
        if self.cloud is None or self.cloud.url is None:
            raise RuntimeError("the maker cloud is not started")
        return self.cloud.url

    async def start(self) -> object:
        if self.cloud is None:
            side = self.echonet
            backend = await EchonetBridgeBackend.open(
                side.gateway, side.address, self.eoj, mapping=self.mapping
            )
            self.cloud = MakerCloud({self.device_id: backend}, self.config)
        await self.cloud.start()
        return self

    def restart(self) -> None:
        """Power-cycle the device behind the cloud (the cloud keeps running)."""
        self.echonet.simulator.restart()

    def check(self) -> None:
        self.echonet.simulator.check()
        if self.cloud is not None:
            self.cloud.check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        cloud, self.cloud = self.cloud, None
        try:
            if cloud is not None:
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    self.runner.run(cloud.close())
        finally:
            self.echonet.simulator.close()
            self.echonet.gateway.close()
