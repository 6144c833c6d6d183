"""Evidence: the run's hash-chained log of every exchange, HTTP evidence and secret redaction."""

from __future__ import annotations

from drready.evidence.findings import Finding, FindingSink
from drready.evidence.log import (
    GENESIS,
    EvidenceLog,
    EvidenceSink,
    NullEvidenceLog,
    Record,
    verify_chain,
)

__all__ = [
    "GENESIS",
    "EvidenceLog",
    "EvidenceSink",
    "Finding",
    "FindingSink",
    "NullEvidenceLog",
    "Record",
    "verify_chain",
]
