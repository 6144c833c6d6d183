"""IPA's list of JC-STAR compliant products: read it, and check a declared label against it.

:func:`load_list` reads the list as IPA distributes it (Excel, or CSV) into a :class:`JcStarList`;
:func:`check_declaration` says whether a declared label is on it for this maker and product, at
★1 or higher and valid on a given day; :func:`declared_in` reads the declaration from a profile
as JSON (a report's or a bundle's), so a finished run can be checked after the fact:
``declared_in(report["profile"]).check(load_list(path), on=run_day)``.

A data package (beside the catalog and the profile): it knows nothing of runs; the run's *-3.1
verdict and bulk review both call it.
"""

from __future__ import annotations

from drready.jcstar.check import Declaration, JcStarCheck, check_declaration, declared_in
from drready.jcstar.entries import JcStarEntry, JcStarList, normalise
from drready.jcstar.reader import HEADERS, REQUIRED, load_list

__all__ = [
    "HEADERS",
    "REQUIRED",
    "Declaration",
    "JcStarCheck",
    "JcStarEntry",
    "JcStarList",
    "check_declaration",
    "declared_in",
    "load_list",
    "normalise",
]
