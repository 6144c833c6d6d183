"""IPA's list of JC-STAR compliant products: read it, and check a declared label against it.

:func:`load_list` reads the list as IPA distributes it (Excel, or CSV) into a :class:`JcStarList`;
:func:`check_declaration` says whether a declared label is on it for this maker and product, at
★1 or higher and valid on a given day. A data package (beside the catalog and the profile): it
knows nothing of runs, and the run's *-3.1 verdict and bulk review both call it.
"""

from __future__ import annotations

from drready.jcstar.check import JcStarCheck, check_declaration
from drready.jcstar.entries import JcStarEntry, JcStarList, normalise
from drready.jcstar.reader import HEADERS, REQUIRED, load_list

__all__ = [
    "HEADERS",
    "REQUIRED",
    "JcStarCheck",
    "JcStarEntry",
    "JcStarList",
    "check_declaration",
    "load_list",
    "normalise",
]
