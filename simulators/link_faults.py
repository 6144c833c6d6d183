"""Link faults of the ECHONET Lite reference devices: replies that break the protocol on the wire
while the device behaves. A wrong TID now and then, every reply twice, a stray undecodable
datagram, a reply from the wrong object, a value of the wrong size.

Each is deterministic (every n-th reply, counted from the device's start), so the gateway's
retries always recover and no DR requirement can suffer: the only requirement that may fail is
*-1.1, from what the protocol monitor (:mod:`drready.echonet.monitor`) sees on the wire.
Registered into :data:`drready.simulators.fault_registry.FAULTS` on import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from drready.simulators.fault_registry import fault

from drready.echonet.codec import EOJ, NODE_PROFILE, Frame, Property, decode
from drready.echonet.errors import DecodeError
from drready.echonet.transport import Address, DatagramEndpoint, DatagramHandler

__all__ = ["ReshapedEndpoint"]

# As in drready.simulators.runtime, which imports the fault tables, so this module cannot.
EndpointFactory = Callable[[DatagramHandler], Awaitable[DatagramEndpoint]]
ResponseFilter = Callable[[Frame], Frame | None]

#: Every n-th reply of the device object is bent by the counting faults: never two in a row,
#: so a retransmission always draws a good reply.
EVERY_NTH_REPLY = 5
#: Every n-th reply is preceded by an undecodable copy of itself.
MALFORMED_EVERY_NTH = 4


class LinkSimulator(Protocol):
    """What a link fault bends: the replies a simulated node sends and the endpoint it sends
    them on (every reference device over ECHONET Lite, :class:`SimulatedNode`)."""

    response_filters: list[ResponseFilter]
    _open_endpoint: EndpointFactory


#: What goes on the wire for one datagram the device sends to an address.
Reshape = Callable[[bytes, Address], list[bytes]]


class ReshapedEndpoint:
    """The device's endpoint, with each datagram it sends reshaped (repeated, preceded by
    garbage) on its way out."""

    def __init__(self, inner: DatagramEndpoint, reshape: Reshape) -> None:
        self._inner = inner
        self._reshape = reshape

    @property
    def local_address(self) -> Address:
        return self._inner.local_address

    def send(self, data: bytes, address: Address) -> None:
        for datagram in self._reshape(data, address):
            self._inner.send(datagram, address)

    def close(self) -> None:
        self._inner.close()


def _reshape_sends(sim: LinkSimulator, reshape: Reshape) -> None:
    # A fault is applied before the simulator opens its endpoint (SimulatedNode.start), so the
    # endpoint it opens is wrapped from its first datagram on.
    opener = sim._open_endpoint

    async def open_endpoint(handler: DatagramHandler) -> DatagramEndpoint:
        return ReshapedEndpoint(await opener(handler), reshape)

    sim._open_endpoint = open_endpoint


def _is_response(data: bytes) -> bool:
    try:
        frame = decode(data)
    except DecodeError:
        return False
    return isinstance(frame, Frame) and frame.esv.is_response


def _every_nth_object_reply(n: int, bend: Callable[[Frame], Frame]) -> ResponseFilter:
    """A response filter bending every ``n``-th reply of a device object. The node profile's
    replies are left alone and not counted: discovery is sent once, without retries."""
    count = 0

    def keep(frame: Frame) -> Frame | None:
        nonlocal count
        if frame.seoj.class_id == NODE_PROFILE.class_id:
            return frame
        count += 1
        return bend(frame) if count % n == 0 else frame

    return keep


def _wrong_tid(frame: Frame) -> Frame:
    # Half the TID space away: no request the gateway has in flight carries it.
    return Frame(
        (frame.tid + 0x8000) & 0xFFFF,
        frame.seoj,
        frame.deoj,
        frame.esv,
        frame.properties,
        frame.get_properties,
    )


def _other_instance(frame: Frame) -> Frame:
    seoj = frame.seoj
    other = EOJ(seoj.class_group, seoj.class_code, seoj.instance % 0x7F + 1)
    return Frame(frame.tid, other, frame.deoj, frame.esv, frame.properties, frame.get_properties)


def corrupt_tids(sim: LinkSimulator) -> None:
    sim.response_filters.append(_every_nth_object_reply(EVERY_NTH_REPLY, _wrong_tid))


def duplicate_replies(sim: LinkSimulator) -> None:
    def twice(data: bytes, address: Address) -> list[bytes]:
        return [data, data] if _is_response(data) else [data]

    _reshape_sends(sim, twice)


def malformed_frames(sim: LinkSimulator) -> None:
    count = 0

    def with_garbage(data: bytes, address: Address) -> list[bytes]:
        nonlocal count
        if not _is_response(data):
            return [data]
        count += 1
        if count % MALFORMED_EVERY_NTH:
            return [data]
        # One byte short: the last property's EDT runs past the end, so it cannot decode.
        return [data[:-1], data]

    _reshape_sends(sim, with_garbage)


def wrong_seoj_replies(sim: LinkSimulator) -> None:
    sim.response_filters.append(_every_nth_object_reply(EVERY_NTH_REPLY, _other_instance))


def _resize(epc: int, edt: bytes) -> ResponseFilter:
    def keep(frame: Frame) -> Frame | None:
        if not any(p.epc == epc and p.pdc for p in frame.properties):
            return frame
        props = tuple(Property(epc, edt) if p.epc == epc and p.pdc else p for p in frame.properties)
        return Frame(frame.tid, frame.seoj, frame.deoj, frame.esv, props, frame.get_properties)

    return keep


# -- battery ---------------------------------------------------------------------------------


@fault(
    "tid_corrupt_one_in_five",
    "battery",
    ("BAT-1.1",),
    "Every fifth reply of the battery object carries a wrong TID; the retransmission is answered "
    "right, so every request completes.",
)
def _tid_corrupt(sim: LinkSimulator) -> None:
    corrupt_tids(sim)


@fault(
    "duplicate_replies",
    "battery",
    ("BAT-1.1",),
    "Sends every reply twice.",
)
def _duplicates(sim: LinkSimulator) -> None:
    duplicate_replies(sim)


@fault(
    "malformed_frames",
    "battery",
    ("BAT-1.1",),
    "Before every fourth reply, sends an undecodable copy of it (one byte short).",
)
def _malformed(sim: LinkSimulator) -> None:
    malformed_frames(sim)


@fault(
    "wrong_seoj_reply",
    "battery",
    ("BAT-1.1",),
    "Every fifth reply of the battery object comes from instance 0x02, which the request did not "
    "address; the retransmission is answered right.",
)
def _wrong_seoj(sim: LinkSimulator) -> None:
    wrong_seoj_replies(sim)


@fault(
    "edt_size_violation",
    "battery",
    ("BAT-1.1",),
    "Serves installation location (0x81) in 2 bytes; the Appendix defines 1.",
)
def _edt_size(sim: LinkSimulator) -> None:
    sim.response_filters.append(_resize(0x81, b"\x00\x00"))


# -- heat-pump and hybrid water heaters ---------------------------------------------------------


@fault(
    "hp_tid_corrupt_one_in_five",
    "heatpump",
    ("HP-1.1",),
    "Every fifth reply of the water heater object carries a wrong TID; the retransmission is "
    "answered right.",
)
def _hp_tid_corrupt(sim: LinkSimulator) -> None:
    corrupt_tids(sim)


@fault("hp_duplicate_replies", "heatpump", ("HP-1.1",), "Sends every reply twice.")
def _hp_duplicates(sim: LinkSimulator) -> None:
    duplicate_replies(sim)


@fault(
    "hy_tid_corrupt_one_in_five",
    "hybrid",
    ("HY-1.1",),
    "Every fifth reply of the water heater object carries a wrong TID; the retransmission is "
    "answered right.",
)
def _hy_tid_corrupt(sim: LinkSimulator) -> None:
    corrupt_tids(sim)


@fault("hy_duplicate_replies", "hybrid", ("HY-1.1",), "Sends every reply twice.")
def _hy_duplicates(sim: LinkSimulator) -> None:
    duplicate_replies(sim)
