"""Findings: protocol violations a monitor saw on the wire, whatever test was running.

A finding is filed against a requirement (``*-1.1`` for the ECHONET Lite protocol) with the
evidence records of the frames that show it. The run's recorder turns the findings made during
a test into an outcome of that requirement, so a violation that retries hid still fails it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "FindingSink"]


@dataclass(frozen=True)
class Finding:
    #: The requirement the violation is against; ``*-`` stands for the class under test.
    requirement: str
    #: One line a test engineer can read: what was expected and what the device sent.
    summary: str
    #: Sequence numbers of the evidence records of the frames involved (request and reply).
    records: tuple[int, ...] = ()
    #: A short name of the rule broken ("tid-echo", "edt-size", ...), for counting.
    rule: str = ""


#: Where monitors put their findings: the facade's list, shared with the recorder.
FindingSink = list[Finding]
