"""A reference device behind a stand-in (the reference VEN, the reference maker cloud): the device
on its own in-memory ECHONET Lite network, and the gateway the stand-in drives it through.

The link is inside the device under test, so its frames go to a
:class:`~drready.evidence.NullEvidenceLog`: the harness's evidence is what crosses the boundary
it tests (OpenADR 3, the Web API), not what the stand-in does behind it.
"""

from __future__ import annotations

from drready.simulators.devices import build_device
from drready.simulators.runtime import SimulatedNode

from drready.echonet.codec import ECHONET_LITE_PORT, EOJ
from drready.echonet.gateway import Gateway
from drready.echonet.transport import DatagramEndpoint, DatagramHandler, MemoryNetwork
from drready.evidence import NullEvidenceLog
from drready.simulation import DeviceSpec

__all__ = ["DeviceLink"]

#: In-memory addresses of the stand-in's gateway and of its device.
STAND_IN_HOST = "127.0.0.1"
DEVICE_HOST = "127.0.0.2"


class DeviceLink:
    """The device of ``spec`` and a gateway in front of it (not started until :meth:`start`)."""

    def __init__(self, spec: DeviceSpec, *, request_timeout_s: float, retries: int) -> None:
        self.spec = spec
        network = MemoryNetwork()

        async def open_endpoint(handler: DatagramHandler) -> DatagramEndpoint:
            return network.endpoint(handler, DEVICE_HOST, ECHONET_LITE_PORT)

        self.device: SimulatedNode = build_device(spec, open_endpoint)
        self.address = (DEVICE_HOST, ECHONET_LITE_PORT)
        code = spec.device_class.echonet_class_id
        self.eoj = EOJ(code >> 8, code & 0xFF, spec.instance)
        self.gateway = Gateway(NullEvidenceLog(), timeout_s=request_timeout_s, retries=retries)
        self.gateway.attach(
            network.endpoint(self.gateway.datagram_received, STAND_IN_HOST, ECHONET_LITE_PORT)
        )

    async def start(self) -> None:
        await self.device.start()

    def restart(self) -> None:
        self.device.restart()

    def check(self) -> None:
        self.device.check()

    def close(self) -> None:
        try:
            self.device.close()
        finally:
            self.gateway.close()
