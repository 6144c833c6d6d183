"""The DRready requirement catalog: what the harness tests, with our stable IDs.

The requirements come from the Agency for Natural Resources and Energy paper
「DR対応機器のセキュリティについて」 (19 March 2026), which collects the draft DRready
requirements of three industry bodies: JEMA (home storage batteries), JRAIA (heat-pump water
heaters) and JGKA (hybrid water heaters). The English rendering, the IDs and the "harness
reading" of each item live in ``shared/REQUIREMENTS.md``; this module is the machine-readable
copy that markers, verdicts and reports refer to.

The Japanese titles and notes are quoted from the paper. The only editing is typographic: the
paper's PDF-to-text conversion writes note markers as ``^{※1}`` in two of the three slides, and
we write ``※1`` everywhere.

The catalog is built from two data tables (rows shared by every class, and rows specific to one
class) rather than written out requirement by requirement, so that a change to a shared row
cannot drift between the three classes.

The package: :mod:`.requirement` (the model), :mod:`.texts` (the data), :mod:`.lookup`,
:mod:`.tables` (text and JSON output).
"""

from __future__ import annotations

from drready.catalog.lookup import (
    for_class,
    get,
    ids,
)
from drready.catalog.requirement import (
    Kind,
    Requirement,
    UnknownRequirementError,
)
from drready.catalog.tables import (
    format_table,
    to_json,
)
from drready.catalog.texts import (
    CATALOG,
    POLICY_PLAIN_ECHONET_LITE_EN,
    POLICY_PLAIN_ECHONET_LITE_JA,
    POLICY_TRANSPARENCY_EN,
    POLICY_TRANSPARENCY_JA,
)
from drready.model import DeviceClass, Topology

__all__ = [
    "CATALOG",
    "POLICY_PLAIN_ECHONET_LITE_EN",
    "POLICY_PLAIN_ECHONET_LITE_JA",
    "POLICY_TRANSPARENCY_EN",
    "POLICY_TRANSPARENCY_JA",
    "DeviceClass",
    "Kind",
    "Requirement",
    "Topology",
    "UnknownRequirementError",
    "for_class",
    "format_table",
    "get",
    "ids",
    "to_json",
]
