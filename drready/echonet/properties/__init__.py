"""ECHONET Lite property definitions, built from the Machine Readable Appendix (MRA).

The source is the ECHONET Consortium MRA v1.3.0 (ECHONET Lite Appendix Release R, MIT
licence, see ``mra/COPYRIGHT.txt``), shipped as package data in ``drready/echonet/mra/``.
Nothing here is typed in by hand: names, access rules, release ranges and EDT codecs come
from the JSON at first use and are cached.

Reading of the data, decided here once:

* **Releases.** Every class and property entry carries ``validRelease {from, to}``; ``to`` may
  be ``"latest"``. :func:`load_class` picks, per EPC, the single entry valid at the requested
  release (entries of one EPC must not overlap; that is checked).
* **Superclass.** Device classes inherit the device object superclass (``0x0000.json``); an
  entry in the class file replaces the superclass entry for the same EPC.
* **Node profile 0x0EF0 is not merged with 0x0000.** Profile objects have their own superclass
  (ECHONET Lite Spec. Part 2 §6.10), and ``0x0EF0.json`` already lists the properties it
  inherits (0x80, 0x82, 0x83, 0x88..0x8E, 0x9D..0x9F) with profile-specific meanings: 0x80 is
  booting / not booting, 0x82 is the ECHONET Lite version (not the Appendix release), 0x83 is
  required. Merging 0x0000 would wrongly add device-only properties such as 0x81
  installation location (get/set required for devices).
* **shortName "DEL".** MRA marks properties that the ECHONET Lite Web API does not expose with
  the shortName ``"DEL"`` (superclass 0x97 and the property maps 0x9D..0x9F). The properties
  still exist on the wire, so they are kept and given a camelCase name derived from their
  English name (``"Get property map"`` -> ``getPropertyMap``).
* **mcrule files are not applied.** ``0x0000_mcrule.json`` and ``0x027D_mcrule.json`` are the
  MRA-to-Web-API conversion rules: they re-shape values for Web API JSON (0x82 as
  ``{type, version}``, 0x8A as ``{code, descriptions}``, 0x97 + 0x98 joined into one
  ``date-time``) and drop ("DEL") properties the Web API represents elsewhere (for 0x027D:
  0x83, 0x89, 0x8C, 0x97, 0x98). They describe the Web API view, not the ECHONET Lite property
  set: 0x97/0x98 are get-required for storage batteries from Release H on in ``0x027D.json``
  itself. Applying them would remove mandatory properties, so they ship unchanged and unread.
* **Unknown keys or types are errors.** Every data type in the five class files has a codec;
  an unresolvable ``$ref``, unknown ``type`` or unknown key raises :class:`MraDataError` at
  load instead of silently degrading to raw bytes.

The package: :mod:`.definitions` (the model), :mod:`.mra_types` (data types from MRA JSON),
:mod:`.loader` (classes and their properties).
"""

from __future__ import annotations

from drready.echonet.properties.definitions import (
    LATEST,
    MRA_RELEASE,
    MRA_VERSION,
    NODE_PROFILE,
    RELEASES,
    SUPERCLASS,
    Access,
    ClassDef,
    MraDataError,
    PropertyDef,
    Rule,
    UnknownClassError,
)
from drready.echonet.properties.loader import (
    available_classes,
    load_class,
    property_variants,
)
from drready.echonet.properties.mra_types import (
    data_type_from_mra,
)

__all__ = [
    "LATEST",
    "MRA_RELEASE",
    "MRA_VERSION",
    "NODE_PROFILE",
    "RELEASES",
    "SUPERCLASS",
    "Access",
    "ClassDef",
    "MraDataError",
    "PropertyDef",
    "Rule",
    "UnknownClassError",
    "available_classes",
    "data_type_from_mra",
    "load_class",
    "property_variants",
]
