"""Battery operations over ECHONET Lite, the harness acting as home gateway (gateway topology).

A DR request is one SetC carrying the optional duration (maker EPC, profile-mapped), the target
power (0xEB charging / 0xEC discharging, W) and the operation mode (0xDA), so the device sees the
whole request at once. A mode written alone is the user's choice of the device's own mode.
"""

from __future__ import annotations

from collections.abc import Mapping

from drready.dut_types import CommunicationReport, DrAck, Identity, Status
from drready.echonet.codec import EOJ, NODE_PROFILE, Property
from drready.echonet.errors import DecodeError, EchonetError, EchonetTimeout, RemoteError
from drready.echonet.gateway import Gateway
from drready.echonet.properties import ClassDef, load_class
from drready.echonet.transport import Address
from drready.profile import BATTERY_MAPPING_DEFAULTS, EpcMapping

STORAGE_BATTERY_CLASS = 0x027D

# Status snapshot: everything the suites sample, in one Get (ECHONET Lite Appendix R, 0x027D).
_STATUS_EPCS = (0xD3, 0xDA, 0xCF, 0xE4, 0xA4, 0xA5, 0xA8, 0xA9, 0xA7)


class EchonetBatteryBinding:
    protocol = "ECHONET Lite"
    topology = "gateway"

    def __init__(
        self,
        gateway: Gateway,
        address: Address,
        instance: int = 1,
        mapping: Mapping[str, EpcMapping] | None = None,
        *,
        discovery_address: Address | None = None,
    ) -> None:
        self.gateway = gateway
        self.address = address
        self.eoj = EOJ(0x02, 0x7D, instance)
        self.mapping = {**BATTERY_MAPPING_DEFAULTS, **(mapping or {})}
        self.discovery_address = discovery_address or address
        self.classdef: ClassDef = load_class(STORAGE_BATTERY_CLASS)

    # -- plumbing ----------------------------------------------------------------------------
    def _decode(self, epc: int, edt: bytes) -> object:
        # A DRready item the profile maps is decoded as the profile says (size, scale, sign),
        # even on a standard EPC: that is what the maker declared the firmware does.
        item = next((m for m in self.mapping.values() if m.epc == epc), None)
        if item is not None:
            return item.decode(edt)
        return self.classdef.properties[epc].decode(edt)

    async def _get(self, *epcs: int) -> dict[int, object]:
        raw = await self.gateway.get(self.address, self.eoj, epcs)
        return {epc: self._decode(epc, raw[epc]) for epc in epcs}

    async def _get_one(self, epc: int) -> object:
        return (await self._get(epc))[epc]

    def _item(self, name: str) -> EpcMapping:
        return self.mapping[name]

    # -- BAT-1.1 -----------------------------------------------------------------------------
    async def communication_check(self) -> CommunicationReport:
        problems: list[str] = []
        instances: tuple[str, ...] = ()
        try:
            nodes = await self.gateway.discover(self.discovery_address)
        except EchonetError as exc:
            nodes = []
            problems.append(f"discovery failed: {exc}")
        found = [n for n in nodes if self.eoj in n.instances]
        if nodes:
            instances = tuple(str(e) for n in nodes for e in n.instances)
        if not found:
            problems.append(
                f"discovery: no node listed {self.eoj} in its instance list (0xD6); "
                f"saw {list(instances) or 'no reply'}"
            )
        try:
            maps = await self.gateway.read_property_maps(self.address, self.eoj)
        except (EchonetError, KeyError) as exc:
            problems.append(f"property maps (0x9D/0x9E/0x9F) unreadable: {exc}")
            return CommunicationReport(bool(found), instances, (), (), tuple(problems))
        required = self.classdef.required_get()
        missing = sorted(required - maps.get)
        if missing:
            problems.append(
                "Get property map lacks mandatory EPCs " + ", ".join(f"0x{e:02X}" for e in missing)
            )
        unserved: list[int] = []
        for epc in sorted(maps.get):
            try:
                raw = await self.gateway.get(self.address, self.eoj, [epc])
                if epc in self.classdef.properties:
                    self.classdef.properties[epc].decode(raw[epc])
            except RemoteError:
                unserved.append(epc)
            except DecodeError as exc:
                problems.append(f"EPC 0x{epc:02X} value does not decode: {exc}")
            except EchonetTimeout as exc:
                problems.append(f"EPC 0x{epc:02X}: {exc}")
        if unserved:
            problems.append(
                "Get property map lists EPCs the device refuses to serve: "
                + ", ".join(f"0x{e:02X}" for e in unserved)
            )
        return CommunicationReport(
            discovered=bool(found),
            instances=instances,
            get_map=tuple(sorted(maps.get)),
            set_map=tuple(sorted(maps.set)),
            problems=tuple(problems),
        )

    # -- identity and protocol (BAT-ID, BAT-3.3) -----------------------------------------------
    async def identity(self) -> Identity:
        values: dict[str, str | None] = {}
        for key, epc in (
            ("identification_number", 0x83),
            ("manufacturer_code", 0x8A),
            ("product_code", 0x8C),
            ("serial_number", 0x8D),
        ):
            try:
                raw = (await self.gateway.get(self.address, self.eoj, [epc]))[epc]
            except RemoteError:
                values[key] = None
                continue
            if epc in (0x8C, 0x8D):
                values[key] = raw.decode("ascii", "replace").strip(" \x00")
            else:
                values[key] = raw.hex().upper()
        return Identity(**values)

    async def appendix_release(self) -> str | None:
        raw = (await self.gateway.get(self.address, self.eoj, [0x82]))[0x82]
        # Device objects: 0x82 is 0x00 0x00, the release letter in ASCII, 0x00 (Appendix, 0x82).
        if len(raw) != 4 or not 0x41 <= raw[2] <= 0x5A:
            return None
        return chr(raw[2])

    async def node_version(self) -> str | None:
        raw = (await self.gateway.get(self.address, NODE_PROFILE, [0x82]))[0x82]
        return f"{raw[0]}.{raw[1]}" if len(raw) == 4 else None

    # -- DR ------------------------------------------------------------------------------------
    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck:
        props: list[Property] = []
        if duration_s is not None and "dr_duration_s" in self.mapping:
            item = self._item("dr_duration_s")
            props.append(Property(item.epc, item.encode(duration_s)))
        if target_w >= 0:
            item, mode = self._item("target_charge_power_w"), "charging"
        else:
            item, mode = self._item("target_discharge_power_w"), "discharging"
        props.append(Property(item.epc, item.encode(abs(target_w))))
        props.append(Property(0xDA, self.classdef.properties[0xDA].encode(mode)))
        try:
            await self.gateway.set_c(self.address, self.eoj, props)
        except RemoteError as exc:
            return DrAck(False, f"refused: {exc}")
        return DrAck(True, "Set_Res")

    async def read_target_w(self) -> float:
        mode = await self._get_one(0xDA)
        name = "target_discharge_power_w" if mode == "discharging" else "target_charge_power_w"
        item = self._item(name)
        raw = (await self.gateway.get(self.address, self.eoj, [item.epc]))[item.epc]
        value = item.decode(raw)
        return -value if mode == "discharging" else value

    async def set_own_mode(self, mode: str) -> None:
        await self.gateway.set_c(
            self.address, self.eoj, [Property(0xDA, self.classdef.properties[0xDA].encode(mode))]
        )

    async def read_mode(self) -> str:
        return str(await self._get_one(0xDA))

    async def read_ratings(self) -> tuple[float, float]:
        values = await self._get(0xC8, 0xC9)
        charge, discharge = values[0xC8], values[0xC9]
        if not isinstance(charge, dict) or not isinstance(discharge, dict):
            raise DecodeError(f"0xC8/0xC9: expected min/max pairs, got {charge!r}, {discharge!r}")
        return float(charge["maxValue"]), float(discharge["maxValue"])

    async def status(self) -> Status:
        reserve = self._item("backup_reserve_pct")
        epcs = tuple(dict.fromkeys((*_STATUS_EPCS[:-1], reserve.epc)))
        values = await self._get(*epcs)

        def num(epc: int) -> float:
            value = values[epc]
            if not isinstance(value, int | float):
                raise DecodeError(f"EPC 0x{epc:02X}: expected a number, got {value!r}")
            return float(value)

        return Status(
            power_w=num(0xD3),
            mode=str(values[0xDA]),
            actual_mode=str(values[0xCF]),
            soc_pct=num(0xE4),
            chargeable_wh=num(0xA4),
            dischargeable_wh=num(0xA5),
            charged_wh=num(0xA8) * 1000.0,
            discharged_wh=num(0xA9) * 1000.0,
            reserve_pct=num(reserve.epc),
        )

    async def set_backup_reserve_pct(self, pct: float) -> None:
        item = self._item("backup_reserve_pct")
        await self.gateway.set_c(self.address, self.eoj, [Property(item.epc, item.encode(pct))])

    # -- comms loss ----------------------------------------------------------------------------
    def cut_comms(self) -> None:
        self.gateway.silent = True

    def restore_comms(self) -> None:
        self.gateway.silent = False
