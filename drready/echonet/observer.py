"""What a gateway tells an observer of its wire: each frame it sends and each datagram it
receives, with the evidence record that holds it.

The protocol monitor (:mod:`drready.echonet.monitor`) is such an observer. It keeps its own
account of requests and replies, apart from the gateway's matching, so a reply the gateway's
retries absorbed is still judged.
"""

from __future__ import annotations

from typing import Protocol

from drready.echonet.codec import Frame
from drready.echonet.transport import Address

__all__ = ["FrameObserver"]


class FrameObserver(Protocol):
    def sent(self, frame: Frame, destination: Address, record: int) -> None:
        """The gateway sent ``frame`` (a request, or an INFC acknowledgement) to
        ``destination``; ``record`` is the sequence number of its evidence record."""

    def received(self, data: bytes, source: Address, record: int) -> None:
        """A datagram arrived from ``source`` (whatever it holds, undecodable included), at
        whichever of the gateway's sockets; ``record`` is its evidence record's sequence number."""
