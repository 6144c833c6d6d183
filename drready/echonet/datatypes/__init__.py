"""EDT codecs for the data types of the ECHONET Consortium Machine Readable Appendix (MRA).

Each class here models one MRA ``data`` "type" (MRA v1.3.0, data format 1.2.0) and converts
between a property value's EDT bytes and a plain Python value, strictly: a wrong length, a
value outside the declared range or an undefined code raises :class:`DecodeError` /
:class:`EncodeError` instead of being passed through. Error messages describe the problem
without the EPC; :class:`drready.echonet.properties.PropertyDef` adds that context.

Python values, per MRA type:

========== =====================================================================
number     ``int``; ``float`` when ``multiple`` is fractional (kWh x 0.001);
           ``"overflow"`` / ``"underflow"`` when the type declares those codes
state      the state's ``name`` (``str``), e.g. ``"auto"``, ``"true"``; a
           :class:`CodedState` (name + code) when the name alone is ambiguous
level      ``int`` level, ``minimum..maximum`` (1-based unless the MRA says otherwise)
raw        ``bytes``
date       ``datetime.date``
time       ``datetime.time`` (``datetime.timedelta`` when hours may exceed 23)
date-time  naive ``datetime.datetime`` (ECHONET Lite carries no time zone)
object     ``dict`` element shortName -> element value, in MRA order
array      ``list`` of item values
bitmap     ``dict`` bit-field name -> state name
oneOf      whatever the first matching alternative produces
========== =====================================================================

These classes hold no MRA parsing logic; :mod:`drready.echonet.properties` builds them from
the JSON files.

The package, by type family: :mod:`.base`, :mod:`.number`, :mod:`.coded`, :mod:`.times`,
:mod:`.composite`.
"""

from __future__ import annotations

from drready.echonet.datatypes.base import (
    Buffer,
    DataType,
)
from drready.echonet.datatypes.coded import (
    CodedState,
    LevelType,
    RawType,
    StateType,
    StateValue,
)
from drready.echonet.datatypes.composite import (
    ArrayType,
    BitField,
    BitmapType,
    ObjectElement,
    ObjectType,
    OneOfType,
)
from drready.echonet.datatypes.number import (
    NumberType,
)
from drready.echonet.datatypes.times import (
    DateTimeType,
    DateType,
    TimeType,
)

__all__ = [
    "ArrayType",
    "BitField",
    "BitmapType",
    "Buffer",
    "CodedState",
    "DataType",
    "DateTimeType",
    "DateType",
    "LevelType",
    "NumberType",
    "ObjectElement",
    "ObjectType",
    "OneOfType",
    "RawType",
    "StateType",
    "StateValue",
    "TimeType",
]
