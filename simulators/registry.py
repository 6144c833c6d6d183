"""The reference simulators' backend: what the harness finds under the ``drready.simulators``
entry point (:mod:`drready.simulation` declares the interface)."""

from __future__ import annotations

from collections.abc import Mapping

from drready.simulators.faults import FAULTS

from drready.simulation import FaultInfo

__all__ = ["BACKEND", "ReferenceBackend"]


class ReferenceBackend:
    """The built-in reference devices and their named faults."""

    @property
    def faults(self) -> Mapping[str, FaultInfo]:
        return FAULTS


BACKEND = ReferenceBackend()
