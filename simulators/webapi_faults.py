"""Named faults of the server topology, ECHONET Lite Web API shape (being written: issue 4).

Registered into :data:`simulators.faults.FAULTS` when that module is imported.
"""

from __future__ import annotations
