"""The device side of ECHONET Lite, sans-I/O: objects serving properties, and a node answering.

:class:`Node` turns one request frame into the response frames the standard asks for (ECHONET Lite
Spec. Part 2, 4.2.3 "Basic sequences for service content"). It has no socket and no clock; the
simulators wrap it with a transport, exactly as the gateway wraps the codec on the other side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from drready.echonet.codec import (
    EOJ,
    ESV,
    NODE_PROFILE,
    Frame,
    Property,
    encode_instance_list,
    encode_property_map,
)

# ECHONET Lite Appendix, superclass property maps.
EPC_STATUS_CHANGE_MAP = 0x9D
EPC_SET_MAP = 0x9E
EPC_GET_MAP = 0x9F
# Node profile (class 0x0EF0) instance lists, ECHONET Lite Spec. Part 2, 6.11.1.
EPC_INSTANCE_LIST_NOTIFICATION = 0xD5
EPC_SELF_NODE_INSTANCE_LIST_S = 0xD6

Getter = Callable[[], bytes]
Setter = Callable[[bytes], bool]


@dataclass
class PropertySlot:
    """How one EPC is served: a getter, a setter, and whether changes are announced."""

    getter: Getter | None = None
    setter: Setter | None = None
    announce: bool = False


class ObjectBase:
    """An ECHONET Lite object whose properties are slots; maps 0x9D-0x9F come from the slots.

    ``advertise_unserved`` lets a (faulty) device list EPCs in its Get map that it cannot serve.
    The maps are computed once and kept until a slot changes: a Get asks for them every time.
    """

    def __init__(self, eoj: EOJ) -> None:
        self.eoj = eoj
        self.slots: dict[int, PropertySlot] = {}
        self._unserved: set[int] = set()
        self._get_map: frozenset[int] | None = None

    def serve(
        self,
        epc: int,
        getter: Getter | None = None,
        setter: Setter | None = None,
        *,
        announce: bool = False,
    ) -> None:
        self.slots[epc] = PropertySlot(getter, setter, announce)
        self._get_map = None

    def withdraw(self, epc: int) -> None:
        """Stop serving ``epc`` altogether (it leaves the property maps too)."""
        self.slots.pop(epc, None)
        self._get_map = None

    def advertise_unserved(self, epc: int) -> None:
        self._unserved.add(epc)
        self._get_map = None

    def get_map(self) -> frozenset[int]:
        if self._get_map is None:
            epcs = {epc for epc, slot in self.slots.items() if slot.getter is not None}
            self._get_map = frozenset(
                epcs | {EPC_STATUS_CHANGE_MAP, EPC_SET_MAP, EPC_GET_MAP} | self._unserved
            )
        return self._get_map

    def set_map(self) -> frozenset[int]:
        return frozenset(epc for epc, slot in self.slots.items() if slot.setter is not None)

    def announce_map(self) -> frozenset[int]:
        return frozenset(epc for epc, slot in self.slots.items() if slot.announce)

    def read(self, epc: int) -> bytes | None:
        if epc == EPC_GET_MAP:
            return encode_property_map(self.get_map())
        if epc == EPC_SET_MAP:
            return encode_property_map(self.set_map())
        if epc == EPC_STATUS_CHANGE_MAP:
            return encode_property_map(self.announce_map())
        slot = self.slots.get(epc)
        if slot is None or slot.getter is None:
            return None
        return slot.getter()

    def write(self, epc: int, edt: bytes) -> bool:
        slot = self.slots.get(epc)
        if slot is None or slot.setter is None:
            return False
        return slot.setter(edt)


class Node:
    """A node profile plus device objects; answers requests addressed to any of them."""

    def __init__(self, node_profile: ObjectBase, objects: Sequence[ObjectBase]) -> None:
        if node_profile.eoj.class_id != NODE_PROFILE.class_id:
            raise ValueError(f"{node_profile.eoj} is not a node profile object")
        self.node_profile = node_profile
        self.objects: tuple[ObjectBase, ...] = tuple(objects)
        instance_list = encode_instance_list([o.eoj for o in self.objects])
        # The instance lists are fixed for the node's life: the set of objects does not change.
        node_profile.serve(EPC_SELF_NODE_INSTANCE_LIST_S, lambda: instance_list)
        node_profile.serve(EPC_INSTANCE_LIST_NOTIFICATION, lambda: instance_list, announce=True)

    def all_objects(self) -> tuple[ObjectBase, ...]:
        return (self.node_profile, *self.objects)

    def _targets(self, deoj: EOJ) -> list[ObjectBase]:
        # Instance code 0x00 addresses every instance of the class (Spec. Part 2, 3.2.4).
        return [
            o
            for o in self.all_objects()
            if o.eoj == deoj
            or (
                deoj.instance == 0
                and (o.eoj.class_group, o.eoj.class_code) == (deoj.class_group, deoj.class_code)
            )
        ]

    def handle(self, request: Frame) -> list[Frame]:
        """The responses to ``request``; an empty list where the standard sends nothing."""
        responses: list[Frame] = []
        for target in self._targets(request.deoj):
            response = self._answer(target, request)
            if response is not None:
                responses.append(response)
        return responses

    def _answer(self, target: ObjectBase, request: Frame) -> Frame | None:
        esv = request.esv
        if esv == ESV.GET or esv == ESV.INF_REQ:
            props, ok = self._get_block(target, request.properties)
            if esv == ESV.GET:
                return self._reply(target, request, ESV.GET_RES if ok else ESV.GET_SNA, props)
            return self._reply(target, request, ESV.INF if ok else ESV.INF_SNA, props)
        if esv in (ESV.SETC, ESV.SETI):
            props, ok = self._set_block(target, request.properties)
            if esv == ESV.SETC:
                return self._reply(target, request, ESV.SET_RES if ok else ESV.SETC_SNA, props)
            # SetI is answered only when refused (Spec. Part 2, 4.2.3.1).
            return None if ok else self._reply(target, request, ESV.SETI_SNA, props)
        if esv == ESV.SETGET:
            set_props, set_ok = self._set_block(target, request.properties)
            get_props, get_ok = self._get_block(target, request.get_properties)
            ok = set_ok and get_ok
            return Frame(
                tid=request.tid,
                seoj=target.eoj,
                deoj=request.seoj,
                esv=ESV.SETGET_RES if ok else ESV.SETGET_SNA,
                properties=tuple(set_props),
                get_properties=tuple(get_props),
            )
        if esv == ESV.INFC:
            acks = tuple(Property(p.epc) for p in request.properties)
            return self._reply(target, request, ESV.INFC_RES, acks)
        return None

    @staticmethod
    def _reply(target: ObjectBase, request: Frame, esv: ESV, props: Iterable[Property]) -> Frame:
        return Frame(
            tid=request.tid, seoj=target.eoj, deoj=request.seoj, esv=esv, properties=tuple(props)
        )

    @staticmethod
    def _get_block(
        target: ObjectBase, requested: Iterable[Property]
    ) -> tuple[list[Property], bool]:
        out: list[Property] = []
        ok = True
        get_map = target.get_map()
        for prop in requested:
            value = target.read(prop.epc) if prop.epc in get_map else None
            if value is None:
                # A refused Get echoes the EPC with PDC 0 (Spec. Part 2, 4.2.3.2).
                ok = False
                out.append(Property(prop.epc))
            else:
                out.append(Property(prop.epc, value))
        return out, ok

    @staticmethod
    def _set_block(
        target: ObjectBase, requested: Iterable[Property]
    ) -> tuple[list[Property], bool]:
        out: list[Property] = []
        ok = True
        for prop in requested:
            if target.write(prop.epc, prop.edt):
                out.append(Property(prop.epc))
            else:
                # A refused Set echoes the EDT it did not accept (Spec. Part 2, 4.2.3.1).
                ok = False
                out.append(Property(prop.epc, prop.edt))
        return out, ok

    def announcement(self, obj: ObjectBase, epcs: Iterable[int], tid: int) -> Frame | None:
        """An INF for the given EPCs of ``obj`` (to be multicast), or None if none can be read."""
        props = []
        for epc in epcs:
            value = obj.read(epc)
            if value is not None:
                props.append(Property(epc, value))
        if not props:
            return None
        return Frame(
            tid=tid,
            seoj=obj.eoj,
            deoj=NODE_PROFILE,
            esv=ESV.INF,
            properties=tuple(props),
        )
