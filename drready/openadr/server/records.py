"""What the servicer keeps for the verdicts: findings, reports, requests, webhook deliveries;
and its own errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, get_args

from drready.openadr.validation import OpenAdrError

Outage = Literal["none", "silent", "503", "reset"]
OUTAGES: tuple[str, ...] = get_args(Outage)


class ServicerError(OpenAdrError):
    """A fault of the servicer itself (a document of ours its schema rejects, a misuse)."""


class ServicerTimeout(OpenAdrError, TimeoutError):
    """A bounded wait of the harness (a report, a poll) ran out."""


@dataclass(frozen=True)
class Finding:
    """A document a client sent that its schema rejects (DRready ``*-1.2``)."""

    time: float  # epoch seconds, the run's clock
    client_id: str  # "" when the request carried no valid token
    peer: str
    method: str
    path: str
    schema: str
    document: Any  # the parsed JSON, or the raw text when it was not JSON
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ReportRecord:
    """One report a VEN wrote and was answered 2xx for, in arrival order."""

    index: int
    time: float
    client_id: str
    operation: str  # "CREATE" (POST) or "UPDATE" (PUT)
    report: Mapping[str, Any]  # the report as stored (with id, clientID, ...)

    def payloads(self) -> dict[str, list[Any]]:
        """Every payload type in the report with its values, intervals and resources in order."""
        out: dict[str, list[Any]] = {}
        for resource in self.report.get("resources", []):
            for interval in resource.get("intervals", []):
                for payload in interval.get("payloads", []):
                    out.setdefault(payload["type"], []).extend(payload["values"])
        return out


class RequestRecord(NamedTuple):
    """One HTTP request the servicer received, and how it ended. A named tuple of plain values,
    not a dataclass: one is kept per request, and the garbage collector stops tracking such
    tuples, so a long or busy run's request log costs no collector pauses."""

    time: float  # arrival, epoch seconds
    client_id: str  # "" when it carried no valid token
    peer: str
    method: str
    path: str
    status: int | None  # None: no answer (connection reset, or held until the server closed)
    event_ids: tuple[str, ...] = ()  # the events the answer carried
    expired_token: bool = False  # it carried a token issued here, past its end


@dataclass(frozen=True)
class Delivery:
    """One webhook notification and its outcome."""

    time: float
    subscription_id: str
    client_id: str
    url: str
    object_type: str
    operation: str
    object_id: str
    status: int | None  # None when nothing came back
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300
