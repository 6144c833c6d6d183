"""The reference VEN and the reference device behind it, as one server-topology simulator (what
:meth:`drready.simulators.registry.ReferenceBackend.openadr_ven` builds from a
:class:`~drready.simulation.VenSpec`)."""

from __future__ import annotations

from typing import Any

from drready.simulators.device_link import DeviceLink
from drready.simulators.devices import heater_config
from drready.simulators.faults import get_fault
from drready.simulators.ven import ReferenceVen, VenConfig
from drready.simulators.ven_device import adapter_for

from drready.model import Binding, DeviceClass
from drready.simulation import VenSpec

__all__ = ["SimulatedVen"]


class SimulatedVen:
    """The VEN in front of its device: started, power-cycled, checked and closed together."""

    def __init__(self, spec: VenSpec) -> None:
        for name in spec.faults:
            fault = get_fault(name)
            if fault.binding is not Binding.OPENADR3:
                raise ValueError(f"fault {name!r} is not a fault of the reference VEN")
        device = spec.device
        self.link = DeviceLink(
            device, request_timeout_s=spec.request_timeout_s, retries=spec.retries
        )
        evaluation_start_s = 0.0
        if device.device_class is not DeviceClass.BATTERY:
            evaluation_start_s = heater_config(device).evaluation_start_s
        adapter = adapter_for(
            device.device_class,
            self.link.gateway,
            self.link.address,
            instance=device.instance,
            mapping=device.mapping or {},
            evaluation_start_s=evaluation_start_s,
        )
        config = VenConfig(
            base_url=spec.base_url,
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            ven_name=spec.ven_name,
            ca_pem=spec.ca_pem,
            poll_interval_s=spec.poll_interval_s,
            report_interval_s=spec.report_interval_s,
            comms_loss_timeout_s=spec.comms_loss_timeout_s,
        )
        self.reference_ven = ReferenceVen(config, adapter)
        for name in spec.faults:
            get_fault(name).apply(self.reference_ven)

    @property
    def ven(self) -> Any:
        return self.reference_ven

    @property
    def last_error(self) -> str:
        return self.reference_ven.last_error

    async def start(self) -> object:
        await self.link.start()
        await self.reference_ven.start()
        return self

    def restart(self) -> None:
        self.link.restart()
        self.reference_ven.restart()

    def check(self) -> None:
        self.link.check()
        self.reference_ven.check()

    async def aclose(self) -> None:
        try:
            await self.reference_ven.close()
        finally:
            self.link.close()
