"""SunSpec model definitions the harness needs, as compact data.

The point tables below (models 1, 802, 124, 101, 704, 203) were checked, offset by offset and
type by type, against the JSON model definitions of the SunSpec Alliance models repository
(github.com/sunspec/models, ``json/``), commit 7abdf8982d5364f8ae916deee18aac86c11be36d
(2026-04-22). Only facts are taken from there
(model IDs, point names, offsets, sizes, types, units, scale-factor names, access, mandatory).

Offsets count from the first register of the model block: ``ID`` is at offset 0 and ``L`` at 1,
so a model's block is ``L + 2`` registers long. Points of a repeated or synchronised group are
named ``Group.Point`` (model 704's ``PFWInj.PF``). Every point of each model is listed, so the
offsets of the points the harness uses are known to be right.

Table columns: name | offset | registers | type | units | scale-factor point | access | M(andatory)
or O(ptional).

Why one module past 500 lines: most of it is those tables, standard data best read whole and in
model order beside the few lines that parse them; splitting the tables from their parser would
only separate a row format from its one reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "BASE_ADDRESSES",
    "END_MODEL_ID",
    "MODELS",
    "SUNSPEC_MODELS_COMMIT",
    "SUNS_MARKER",
    "SUNS_REGISTERS",
    "TYPE_SIZES",
    "Access",
    "Model",
    "Point",
    "PointType",
    "model",
]

SUNSPEC_MODELS_COMMIT = "7abdf8982d5364f8ae916deee18aac86c11be36d"

SUNS_MARKER = 0x53756E53  # "SunS", two registers at the base address
SUNS_REGISTERS = (0x5375, 0x6E53)
END_MODEL_ID = 0xFFFF  # the end model: ID 0xFFFF, L 0
BASE_ADDRESSES = (40000, 0, 50000)  # tried in this order


class PointType(StrEnum):
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    UINT64 = "uint64"
    INT64 = "int64"
    ACC16 = "acc16"
    ACC32 = "acc32"
    ACC64 = "acc64"
    ENUM16 = "enum16"
    ENUM32 = "enum32"
    BITFIELD16 = "bitfield16"
    BITFIELD32 = "bitfield32"
    FLOAT32 = "float32"
    SUNSSF = "sunssf"
    PAD = "pad"
    STRING = "string"


class Access(StrEnum):
    R = "R"
    RW = "RW"


# Registers a point of each fixed-size type takes (strings take what the model says).
TYPE_SIZES: Mapping[PointType, int] = MappingProxyType(
    {
        PointType.UINT16: 1,
        PointType.INT16: 1,
        PointType.ACC16: 1,
        PointType.ENUM16: 1,
        PointType.BITFIELD16: 1,
        PointType.SUNSSF: 1,
        PointType.PAD: 1,
        PointType.UINT32: 2,
        PointType.INT32: 2,
        PointType.ACC32: 2,
        PointType.ENUM32: 2,
        PointType.BITFIELD32: 2,
        PointType.FLOAT32: 2,
        PointType.UINT64: 4,
        PointType.INT64: 4,
        PointType.ACC64: 4,
    }
)


@dataclass(frozen=True, slots=True)
class Point:
    name: str
    offset: int  # registers from the model's ID register
    size: int  # registers
    type: PointType
    units: str = ""
    sf: str = ""  # name of the scale-factor point in the same model, "" if unscaled
    access: Access = Access.R
    mandatory: bool = False

    @property
    def writable(self) -> bool:
        return self.access is Access.RW


@dataclass(frozen=True)
class Model:
    id: int
    name: str
    label: str
    length: int  # L as the specification gives it: registers after ID and L
    points: tuple[Point, ...]
    symbols: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    _by_name: Mapping[str, Point] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({p.name: p for p in self.points}))

    @property
    def block_size(self) -> int:
        return self.length + 2

    def point(self, name: str) -> Point:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"model {self.id} ({self.name}) has no point {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def _parse(table: str) -> tuple[Point, ...]:
    points = []
    for row in table.strip().splitlines():
        name, offset, size, kind, units, sf, access, mandatory = (c.strip() for c in row.split("|"))
        points.append(
            Point(
                name,
                int(offset),
                int(size),
                PointType(kind),
                units,
                sf,
                Access(access),
                mandatory == "M",
            )
        )
    return tuple(points)


_M1 = """
ID                |  0| 1|uint16    |              |                |R |M
L                 |  1| 1|uint16    |              |                |R |M
Mn                |  2|16|string    |              |                |R |M
Md                | 18|16|string    |              |                |R |M
Opt               | 34| 8|string    |              |                |R |O
Vr                | 42| 8|string    |              |                |R |O
SN                | 50|16|string    |              |                |R |M
DA                | 66| 1|uint16    |              |                |RW|O
Pad               | 67| 1|pad       |              |                |R |O

"""
_M802 = """
ID                |  0| 1|uint16    |              |                |R |M
L                 |  1| 1|uint16    |              |                |R |M
AHRtg             |  2| 1|uint16    |Ah            |AHRtg_SF        |R |M
WHRtg             |  3| 1|uint16    |Wh            |WHRtg_SF        |R |M
WChaRteMax        |  4| 1|uint16    |W             |WChaDisChaMax_SF|R |M
WDisChaRteMax     |  5| 1|uint16    |W             |WChaDisChaMax_SF|R |M
DisChaRte         |  6| 1|uint16    |%WHRtg        |DisChaRte_SF    |R |O
SoCMax            |  7| 1|uint16    |%WHRtg        |SoC_SF          |R |O
SoCMin            |  8| 1|uint16    |%WHRtg        |SoC_SF          |R |O
SocRsvMax         |  9| 1|uint16    |%WHRtg        |SoC_SF          |RW|O
SoCRsvMin         | 10| 1|uint16    |%WHRtg        |SoC_SF          |RW|O
SoC               | 11| 1|uint16    |%WHRtg        |SoC_SF          |R |M
DoD               | 12| 1|uint16    |%             |DoD_SF          |R |O
SoH               | 13| 1|uint16    |%             |SoH_SF          |R |O
NCyc              | 14| 2|uint32    |              |                |R |O
ChaSt             | 16| 1|enum16    |              |                |R |O
LocRemCtl         | 17| 1|enum16    |              |                |R |M
Hb                | 18| 1|uint16    |              |                |R |O
CtrlHb            | 19| 1|uint16    |              |                |RW|O
AlmRst            | 20| 1|uint16    |              |                |RW|M
Typ               | 21| 1|enum16    |              |                |R |M
State             | 22| 1|enum16    |              |                |R |M
StateVnd          | 23| 1|enum16    |              |                |R |O
WarrDt            | 24| 2|uint32    |              |                |R |O
Evt1              | 26| 2|bitfield32|              |                |R |M
Evt2              | 28| 2|bitfield32|              |                |R |M
EvtVnd1           | 30| 2|bitfield32|              |                |R |M
EvtVnd2           | 32| 2|bitfield32|              |                |R |M
V                 | 34| 1|uint16    |V             |V_SF            |R |M
VMax              | 35| 1|uint16    |V             |V_SF            |R |O
VMin              | 36| 1|uint16    |V             |V_SF            |R |O
CellVMax          | 37| 1|uint16    |V             |CellV_SF        |R |O
CellVMaxStr       | 38| 1|uint16    |              |                |R |O
CellVMaxMod       | 39| 1|uint16    |              |                |R |O
CellVMin          | 40| 1|uint16    |V             |CellV_SF        |R |O
CellVMinStr       | 41| 1|uint16    |              |                |R |O
CellVMinMod       | 42| 1|uint16    |              |                |R |O
CellVAvg          | 43| 1|uint16    |V             |CellV_SF        |R |O
A                 | 44| 1|int16     |A             |A_SF            |R |M
AChaMax           | 45| 1|uint16    |A             |AMax_SF         |R |O
ADisChaMax        | 46| 1|uint16    |A             |AMax_SF         |R |O
W                 | 47| 1|int16     |W             |W_SF            |R |M
ReqInvState       | 48| 1|enum16    |              |                |R |O
ReqW              | 49| 1|int16     |W             |W_SF            |R |O
SetOp             | 50| 1|enum16    |              |                |RW|M
SetInvState       | 51| 1|enum16    |              |                |RW|M
AHRtg_SF          | 52| 1|sunssf    |              |                |R |M
WHRtg_SF          | 53| 1|sunssf    |              |                |R |M
WChaDisChaMax_SF  | 54| 1|sunssf    |              |                |R |M
DisChaRte_SF      | 55| 1|sunssf    |              |                |R |O
SoC_SF            | 56| 1|sunssf    |              |                |R |M
DoD_SF            | 57| 1|sunssf    |              |                |R |O
SoH_SF            | 58| 1|sunssf    |              |                |R |O
V_SF              | 59| 1|sunssf    |              |                |R |M
CellV_SF          | 60| 1|sunssf    |              |                |R |M
A_SF              | 61| 1|sunssf    |              |                |R |M
AMax_SF           | 62| 1|sunssf    |              |                |R |M
W_SF              | 63| 1|sunssf    |              |                |R |O

"""
_M124 = """
ID                |  0| 1|uint16    |              |                |R |M
L                 |  1| 1|uint16    |              |                |R |M
WChaMax           |  2| 1|uint16    |W             |WChaMax_SF      |RW|M
WChaGra           |  3| 1|uint16    |% WChaMax/sec |WChaDisChaGra_SF|RW|M
WDisChaGra        |  4| 1|uint16    |% WChaMax/sec |WChaDisChaGra_SF|RW|M
StorCtl_Mod       |  5| 1|bitfield16|              |                |RW|M
VAChaMax          |  6| 1|uint16    |VA            |VAChaMax_SF     |RW|O
MinRsvPct         |  7| 1|uint16    |% WChaMax     |MinRsvPct_SF    |RW|O
ChaState          |  8| 1|uint16    |% AhrRtg      |ChaState_SF     |R |O
StorAval          |  9| 1|uint16    |AH            |StorAval_SF     |R |O
InBatV            | 10| 1|uint16    |V             |InBatV_SF       |R |O
ChaSt             | 11| 1|enum16    |              |                |R |O
OutWRte           | 12| 1|int16     |% WDisChaMax  |InOutWRte_SF    |RW|O
InWRte            | 13| 1|int16     |% WChaMax     |InOutWRte_SF    |RW|O
InOutWRte_WinTms  | 14| 1|uint16    |Secs          |                |RW|O
InOutWRte_RvrtTms | 15| 1|uint16    |Secs          |                |RW|O
InOutWRte_RmpTms  | 16| 1|uint16    |Secs          |                |RW|O
ChaGriSet         | 17| 1|enum16    |              |                |RW|O
WChaMax_SF        | 18| 1|sunssf    |              |                |R |M
WChaDisChaGra_SF  | 19| 1|sunssf    |              |                |R |M
VAChaMax_SF       | 20| 1|sunssf    |              |                |R |O
MinRsvPct_SF      | 21| 1|sunssf    |              |                |R |O
ChaState_SF       | 22| 1|sunssf    |              |                |R |O
StorAval_SF       | 23| 1|sunssf    |              |                |R |O
InBatV_SF         | 24| 1|sunssf    |              |                |R |O
InOutWRte_SF      | 25| 1|sunssf    |              |                |R |O

"""
_M101 = """
ID                |  0| 1|uint16    |              |                |R |M
L                 |  1| 1|uint16    |              |                |R |M
A                 |  2| 1|uint16    |A             |A_SF            |R |M
AphA              |  3| 1|uint16    |A             |A_SF            |R |M
AphB              |  4| 1|uint16    |A             |A_SF            |R |O
AphC              |  5| 1|uint16    |A             |A_SF            |R |O
A_SF              |  6| 1|sunssf    |              |                |R |M
PPVphAB           |  7| 1|uint16    |V             |V_SF            |R |O
PPVphBC           |  8| 1|uint16    |V             |V_SF            |R |O
PPVphCA           |  9| 1|uint16    |V             |V_SF            |R |O
PhVphA            | 10| 1|uint16    |V             |V_SF            |R |M
PhVphB            | 11| 1|uint16    |V             |V_SF            |R |O
PhVphC            | 12| 1|uint16    |V             |V_SF            |R |O
V_SF              | 13| 1|sunssf    |              |                |R |M
W                 | 14| 1|int16     |W             |W_SF            |R |M
W_SF              | 15| 1|sunssf    |              |                |R |M
Hz                | 16| 1|uint16    |Hz            |Hz_SF           |R |M
Hz_SF             | 17| 1|sunssf    |              |                |R |M
VA                | 18| 1|int16     |VA            |VA_SF           |R |O
VA_SF             | 19| 1|sunssf    |              |                |R |O
VAr               | 20| 1|int16     |var           |VAr_SF          |R |O
VAr_SF            | 21| 1|sunssf    |              |                |R |O
PF                | 22| 1|int16     |Pct           |PF_SF           |R |O
PF_SF             | 23| 1|sunssf    |              |                |R |O
WH                | 24| 2|acc32     |Wh            |WH_SF           |R |M
WH_SF             | 26| 1|sunssf    |              |                |R |M
DCA               | 27| 1|uint16    |A             |DCA_SF          |R |O
DCA_SF            | 28| 1|sunssf    |              |                |R |O
DCV               | 29| 1|uint16    |V             |DCV_SF          |R |O
DCV_SF            | 30| 1|sunssf    |              |                |R |O
DCW               | 31| 1|int16     |W             |DCW_SF          |R |O
DCW_SF            | 32| 1|sunssf    |              |                |R |O
TmpCab            | 33| 1|int16     |C             |Tmp_SF          |R |M
TmpSnk            | 34| 1|int16     |C             |Tmp_SF          |R |O
TmpTrns           | 35| 1|int16     |C             |Tmp_SF          |R |O
TmpOt             | 36| 1|int16     |C             |Tmp_SF          |R |O
Tmp_SF            | 37| 1|sunssf    |              |                |R |M
St                | 38| 1|enum16    |              |                |R |M
StVnd             | 39| 1|enum16    |              |                |R |O
Evt1              | 40| 2|bitfield32|              |                |R |M
Evt2              | 42| 2|bitfield32|              |                |R |M
EvtVnd1           | 44| 2|bitfield32|              |                |R |O
EvtVnd2           | 46| 2|bitfield32|              |                |R |O
EvtVnd3           | 48| 2|bitfield32|              |                |R |O
EvtVnd4           | 50| 2|bitfield32|              |                |R |O
"""
_M704 = """
ID                |  0| 1|uint16    |              |                |R |M
L                 |  1| 1|uint16    |              |                |R |M
PFWInjEna         |  2| 1|enum16    |              |                |RW|O
PFWInjEnaRvrt     |  3| 1|enum16    |              |                |RW|O
PFWInjRvrtTms     |  4| 2|uint32    |Secs          |                |RW|O
PFWInjRvrtRem     |  6| 2|uint32    |Secs          |                |R |O
PFWAbsEna         |  8| 1|enum16    |              |                |RW|O
PFWAbsEnaRvrt     |  9| 1|enum16    |              |                |RW|O
PFWAbsRvrtTms     | 10| 2|uint32    |Secs          |                |RW|O
PFWAbsRvrtRem     | 12| 2|uint32    |Secs          |                |R |O
WMaxLimPctEna     | 14| 1|enum16    |              |                |RW|O
WMaxLimPct        | 15| 1|uint16    |Pct           |WMaxLimPct_SF   |RW|O
WMaxLimPctRvrt    | 16| 1|uint16    |Pct           |WMaxLimPct_SF   |RW|O
WMaxLimPctEnaRvrt | 17| 1|enum16    |              |                |RW|O
WMaxLimPctRvrtTms | 18| 2|uint32    |Secs          |                |RW|O
WMaxLimPctRvrtRem | 20| 2|uint32    |Secs          |                |R |O
WSetEna           | 22| 1|enum16    |              |                |RW|O
WSetMod           | 23| 1|enum16    |              |                |RW|O
WSet              | 24| 2|int32     |W             |WSet_SF         |RW|O
WSetRvrt          | 26| 2|int32     |W             |WSet_SF         |RW|O
WSetPct           | 28| 1|int16     |Pct           |WSetPct_SF      |RW|O
WSetPctRvrt       | 29| 1|int16     |Pct           |WSetPct_SF      |RW|O
WSetEnaRvrt       | 30| 1|enum16    |              |                |RW|O
WSetRvrtTms       | 31| 2|uint32    |Secs          |                |RW|O
WSetRvrtRem       | 33| 2|uint32    |Secs          |                |R |O
VarSetEna         | 35| 1|enum16    |              |                |RW|O
VarSetMod         | 36| 1|enum16    |              |                |RW|O
VarSetPri         | 37| 1|enum16    |              |                |RW|O
VarSet            | 38| 2|int32     |Var           |VarSet_SF       |RW|O
VarSetRvrt        | 40| 2|int32     |Var           |VarSet_SF       |RW|O
VarSetPct         | 42| 1|int16     |Pct           |VarSetPct_SF    |RW|O
VarSetPctRvrt     | 43| 1|int16     |Pct           |VarSetPct_SF    |RW|O
VarSetEnaRvrt     | 44| 1|enum16    |              |                |RW|O
VarSetRvrtTms     | 45| 2|uint32    |Secs          |                |RW|O
VarSetRvrtRem     | 47| 2|uint32    |Secs          |                |R |O
WRmp              | 49| 1|uint16    |%Max/Sec      |                |RW|O
WRmpRef           | 50| 1|enum16    |              |                |RW|O
VarRmp            | 51| 1|uint16    |%Max/Sec      |                |RW|O
AntiIslEna        | 52| 1|enum16    |              |                |RW|O
PF_SF             | 53| 1|sunssf    |              |                |R |O
WMaxLimPct_SF     | 54| 1|sunssf    |              |                |R |O
WSet_SF           | 55| 1|sunssf    |              |                |R |O
WSetPct_SF        | 56| 1|sunssf    |              |                |R |O
VarSet_SF         | 57| 1|sunssf    |              |                |R |O
VarSetPct_SF      | 58| 1|sunssf    |              |                |R |O
PFWInj.PF         | 59| 1|uint16    |              |PF_SF           |RW|O
PFWInj.Ext        | 60| 1|enum16    |              |                |RW|O
PFWInjRvrt.PF     | 61| 1|uint16    |              |PF_SF           |RW|O
PFWInjRvrt.Ext    | 62| 1|enum16    |              |                |RW|O
PFWAbs.PF         | 63| 1|uint16    |              |PF_SF           |RW|O
PFWAbs.Ext        | 64| 1|enum16    |              |                |RW|O
PFWAbsRvrt.PF     | 65| 1|uint16    |              |PF_SF           |RW|O
PFWAbsRvrt.Ext    | 66| 1|enum16    |              |                |RW|O

"""
_M203 = """
ID                |  0| 1|uint16    |              |                |R |M
L                 |  1| 1|uint16    |              |                |R |M
A                 |  2| 1|int16     |A             |A_SF            |R |M
AphA              |  3| 1|int16     |A             |A_SF            |R |M
AphB              |  4| 1|int16     |A             |A_SF            |R |M
AphC              |  5| 1|int16     |A             |A_SF            |R |M
A_SF              |  6| 1|sunssf    |              |                |R |M
PhV               |  7| 1|int16     |V             |V_SF            |R |M
PhVphA            |  8| 1|int16     |V             |V_SF            |R |M
PhVphB            |  9| 1|int16     |V             |V_SF            |R |M
PhVphC            | 10| 1|int16     |V             |V_SF            |R |M
PPV               | 11| 1|int16     |V             |V_SF            |R |M
PhVphAB           | 12| 1|int16     |V             |V_SF            |R |M
PhVphBC           | 13| 1|int16     |V             |V_SF            |R |M
PhVphCA           | 14| 1|int16     |V             |V_SF            |R |M
V_SF              | 15| 1|sunssf    |              |                |R |M
Hz                | 16| 1|int16     |Hz            |Hz_SF           |R |M
Hz_SF             | 17| 1|sunssf    |              |                |R |O
W                 | 18| 1|int16     |W             |W_SF            |R |M
WphA              | 19| 1|int16     |W             |W_SF            |R |O
WphB              | 20| 1|int16     |W             |W_SF            |R |O
WphC              | 21| 1|int16     |W             |W_SF            |R |O
W_SF              | 22| 1|sunssf    |              |                |R |M
VA                | 23| 1|int16     |VA            |VA_SF           |R |O
VAphA             | 24| 1|int16     |VA            |VA_SF           |R |O
VAphB             | 25| 1|int16     |VA            |VA_SF           |R |O
VAphC             | 26| 1|int16     |VA            |VA_SF           |R |O
VA_SF             | 27| 1|sunssf    |              |                |R |O
VAR               | 28| 1|int16     |var           |VAR_SF          |R |O
VARphA            | 29| 1|int16     |var           |VAR_SF          |R |O
VARphB            | 30| 1|int16     |var           |VAR_SF          |R |O
VARphC            | 31| 1|int16     |var           |VAR_SF          |R |O
VAR_SF            | 32| 1|sunssf    |              |                |R |O
PF                | 33| 1|int16     |Pct           |PF_SF           |R |O
PFphA             | 34| 1|int16     |Pct           |PF_SF           |R |O
PFphB             | 35| 1|int16     |Pct           |PF_SF           |R |O
PFphC             | 36| 1|int16     |Pct           |PF_SF           |R |O
PF_SF             | 37| 1|sunssf    |              |                |R |O
TotWhExp          | 38| 2|acc32     |Wh            |TotWh_SF        |R |M
TotWhExpPhA       | 40| 2|acc32     |Wh            |TotWh_SF        |R |O
TotWhExpPhB       | 42| 2|acc32     |Wh            |TotWh_SF        |R |O
TotWhExpPhC       | 44| 2|acc32     |Wh            |TotWh_SF        |R |O
TotWhImp          | 46| 2|acc32     |Wh            |TotWh_SF        |R |M
TotWhImpPhA       | 48| 2|acc32     |Wh            |TotWh_SF        |R |O
TotWhImpPhB       | 50| 2|acc32     |Wh            |TotWh_SF        |R |O
TotWhImpPhC       | 52| 2|acc32     |Wh            |TotWh_SF        |R |O
TotWh_SF          | 54| 1|sunssf    |              |                |R |M
TotVAhExp         | 55| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhExpPhA      | 57| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhExpPhB      | 59| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhExpPhC      | 61| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhImp         | 63| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhImpPhA      | 65| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhImpPhB      | 67| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAhImpPhC      | 69| 2|acc32     |VAh           |TotVAh_SF       |R |O
TotVAh_SF         | 71| 1|sunssf    |              |                |R |O
TotVArhImpQ1      | 72| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ1PhA   | 74| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ1PhB   | 76| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ1PhC   | 78| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ2      | 80| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ2PhA   | 82| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ2PhB   | 84| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhImpQ2PhC   | 86| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ3      | 88| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ3PhA   | 90| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ3PhB   | 92| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ3PhC   | 94| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ4      | 96| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ4PhA   | 98| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ4PhB   |100| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArhExpQ4PhC   |102| 2|acc32     |varh          |TotVArh_SF      |R |O
TotVArh_SF        |104| 1|sunssf    |              |                |R |O
Evt               |105| 2|bitfield32|              |                |R |M
"""

_ENABLE = {"DISABLED": 0, "ENABLED": 1}
_CHA_ST = {
    "OFF": 1,
    "EMPTY": 2,
    "DISCHARGING": 3,
    "CHARGING": 4,
    "FULL": 5,
    "HOLDING": 6,
    "TESTING": 7,
}


def _frozen(symbols: dict[str, dict[str, int]]) -> Mapping[str, Mapping[str, int]]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in symbols.items()})


# The models, with the enumerated values of the points the harness reads or writes
# (bitfields: bit numbers).
MODELS: Mapping[int, Model] = MappingProxyType(
    {
        1: Model(1, "common", "Common", 66, _parse(_M1)),
        802: Model(
            802,
            "battery",
            "Battery Base Model",
            62,
            _parse(_M802),
            _frozen(
                {
                    "ChaSt": _CHA_ST,
                    "LocRemCtl": {"REMOTE": 0, "LOCAL": 1},
                    "State": {
                        "DISCONNECTED": 1,
                        "INITIALIZING": 2,
                        "CONNECTED": 3,
                        "STANDBY": 4,
                        "SOC PROTECTION": 5,
                        "SUSPENDING": 6,
                        "FAULT": 99,
                    },
                    "SetOp": {"CONNECT": 1, "DISCONNECT": 2},
                    "SetInvState": {
                        "INVERTER_STOPPED": 1,
                        "INVERTER_STANDBY": 2,
                        "INVERTER_STARTED": 3,
                    },
                }
            ),
        ),
        124: Model(
            124,
            "storage_basic",
            "Storage",
            24,
            _parse(_M124),
            _frozen(
                {
                    "StorCtl_Mod": {"CHARGE": 0, "DiSCHARGE": 1},  # the model's own spelling
                    "ChaSt": _CHA_ST,
                    "ChaGriSet": {"PV": 0, "GRID": 1},
                }
            ),
        ),
        101: Model(
            101,
            "inverter",
            "Inverter (Single Phase)",
            50,
            _parse(_M101),
            _frozen(
                {
                    "St": {
                        "OFF": 1,
                        "SLEEPING": 2,
                        "STARTING": 3,
                        "MPPT": 4,
                        "THROTTLED": 5,
                        "SHUTTING_DOWN": 6,
                        "FAULT": 7,
                        "STANDBY": 8,
                    }
                }
            ),
        ),
        704: Model(
            704,
            "DERCtlAC",
            "DER AC Controls",
            65,
            _parse(_M704),
            _frozen(
                {
                    "WSetEna": _ENABLE,
                    "WSetEnaRvrt": _ENABLE,
                    "WSetMod": {"W_MAX_PCT": 0, "WATTS": 1},
                    "WMaxLimPctEna": _ENABLE,
                }
            ),
        ),
        203: Model(
            203, "ac_meter_abcn", "wye-connect three phase (abcn) meter", 105, _parse(_M203)
        ),
    }
)


def model(model_id: int) -> Model:
    try:
        return MODELS[model_id]
    except KeyError:
        known = ", ".join(str(m) for m in MODELS)
        raise KeyError(f"SunSpec model {model_id} is not defined here (known: {known})") from None
