"""The servicer's objects (programs, events, reports, subscriptions, vens) and their rules:
ids and times, who may see what (Object Privacy), which writes are allowed, the query filters.

Every document of ours is validated before it is kept or sent: an invalid one is a bug of the
servicer, recorded in the shared error list and the evidence, and raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL
from drready.openadr.server.problem import Problem
from drready.openadr.server.records import ReportRecord, ServicerError
from drready.openadr.server.times import event_end, now_epoch, rfc3339
from drready.openadr.validation import DEFAULT_VERSION, errors

#: Objects a VEN writes: only their owner (the clientID of the token) may read them (Definition.md,
#: "Object Privacy") or hear of them.
VEN_OWNED = ("REPORT", "SUBSCRIPTION", "VEN")
#: The collection (URL path) of each object type.
KINDS = ("programs", "events", "reports", "subscriptions", "vens")
#: The request schema of each collection a VEN writes.
REQUEST_SCHEMA = {
    "reports": "reportRequest",
    "subscriptions": "subscriptionRequest",
    "vens": "venRequest",
}
OBJECT_TYPE = {
    "programs": "PROGRAM",
    "events": "EVENT",
    "reports": "REPORT",
    "subscriptions": "SUBSCRIPTION",
    "vens": "VEN",
}


class ObjectStore:
    """The objects of one servicer, by collection and id, in insertion order."""

    def __init__(
        self,
        evidence: EvidenceSink,
        host: str,
        bugs: list[Exception],
        spec_version: str = DEFAULT_VERSION,
    ) -> None:
        self._evidence = evidence
        #: The OpenADR 3 release both directions are validated against.
        self.spec_version = spec_version
        self._host = host
        self._bugs = bugs
        self.programs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.vens: dict[str, dict[str, Any]] = {}
        #: Every report answered 2xx (created or updated), in arrival order.
        self.report_log: list[ReportRecord] = []
        #: The targets business logic granted each client.
        self.granted: dict[str, set[str]] = {}
        self._serial = 0

    def clear(self) -> None:
        """Forget every object and report (the servicer is done)."""
        for kind in KINDS:
            self.table(kind).clear()
        self.report_log.clear()

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        """The collection ``kind`` ("programs", "events", ...)."""
        tables = {
            "programs": self.programs,
            "events": self.events,
            "reports": self.reports,
            "subscriptions": self.subscriptions,
            "vens": self.vens,
        }
        return tables[kind]

    # -- building and checking our documents ------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial}"

    def stored(
        self,
        object_type: str,
        prefix: str,
        request: Mapping[str, Any],
        *,
        keep: Mapping[str, Any] | None = None,
        client_id: str | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """The object as kept: the request plus id, times, objectType (and clientID)."""
        now = rfc3339()
        stored: dict[str, Any] = {
            "id": keep["id"] if keep else self.next_id(prefix),
            "createdDateTime": keep["createdDateTime"] if keep else now,
            "modificationDateTime": now,
            "objectType": object_type,
        }
        stored.update({k: v for k, v in request.items() if k not in stored})
        stored["objectType"] = object_type
        if client_id is not None:
            stored["clientID"] = client_id
        if check:
            self.check_ours(object_type.lower(), stored)
        return stored

    def check_ours(self, schema: str, document: Any) -> None:
        """A document of ours that its schema rejects is a bug: recorded, logged, raised."""
        found = errors(schema, document, self.spec_version)
        if found:
            bug = ServicerError(f"the servicer built an invalid {schema}: {'; '.join(found)}")
            self._bugs.append(bug)
            self._evidence.add(
                "note",
                CHANNEL,
                self._host,
                f"servicer bug: invalid {schema} of ours",
                values={"document": document, "errors": found},
            )
            raise bug

    @staticmethod
    def known(table: Mapping[str, Any], object_id: str, what: str) -> str:
        """``object_id``, or KeyError when ``table`` has no such object."""
        if object_id not in table:
            raise KeyError(f"no {what} {object_id!r}")
        return object_id

    # -- who sees what ----------------------------------------------------------------------------
    def grant(self, client_id: str, targets: Sequence[str]) -> None:
        """Grant a client targets, and write them into its ven objects."""
        self.granted[client_id] = set(targets)
        for ven in self.vens.values():
            if ven["clientID"] == client_id:
                ven["targets"] = sorted(targets) or None
                ven["modificationDateTime"] = rfc3339()

    def served(
        self, obj: Mapping[str, Any], client_id: str, requested: Sequence[str] | None
    ) -> dict[str, Any] | None:
        """The object as this client may see it, or None (Definition.md, "Object Privacy": an
        object with targets is served only for targets both requested and granted, and only
        those targets are shown)."""
        targets = obj.get("targets") or []
        if not targets:
            return dict(obj)
        usable = set(requested or ()) & self.granted.get(client_id, set())
        shown = [t for t in targets if t in usable]
        if not shown:
            return None
        served = dict(obj)
        served["targets"] = shown
        return served

    def visible(
        self, kind: str, obj: Mapping[str, Any], client_id: str, targets: Sequence[str] | None
    ) -> dict[str, Any] | None:
        """Programs and events by their targets; what a VEN wrote only to its owner."""
        if kind in ("programs", "events"):
            return self.served(obj, client_id, targets)
        return dict(obj) if obj.get("clientID") == client_id else None

    def matches(self, kind: str, obj: Mapping[str, Any], query: Mapping[str, str]) -> bool:
        """Whether an object passes a search's query parameters."""
        program_id = query.get("programID")
        if program_id is not None:
            if kind == "reports":
                event = self.events.get(str(obj.get("eventID")))
                if event is None or event["programID"] != program_id:
                    return False
            elif kind != "programs" and obj.get("programID") != program_id:
                return False
        for name in ("eventID", "clientName", "venName"):
            if name in query and obj.get(name) != query[name]:
                return False
        if kind == "subscriptions" and "objects" in query:
            wanted = set(cast(Any, query).getall("objects"))
            have = {o for oo in obj["objectOperations"] for o in oo["objects"]}
            if not wanted & have:
                return False
        if kind == "events" and query.get("active", "").lower() == "true":
            end = event_end(obj)
            if end is not None and end <= now_epoch():
                return False
        return True

    # -- a VEN's writes ---------------------------------------------------------------------------
    def client_write(
        self,
        kind: str,
        client_id: str,
        document: dict[str, Any],
        old: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The object a VEN's valid write stores (not yet kept); a :class:`Problem` when the
        write is refused (no such event or program, a taken venName, a BL-only document)."""
        if kind == "reports" and document["eventID"] not in self.events:
            raise Problem(409, f"no event {document['eventID']!r} to report on")
        program_id = document.get("programID") if kind == "subscriptions" else None
        if program_id and program_id not in self.programs:
            raise Problem(409, f"no program {document['programID']!r} to subscribe to")
        if kind == "vens":
            if document["objectType"] != "VEN_VEN_REQUEST":
                raise Problem(403, "only business logic writes BL_VEN_REQUEST (targets)")
            for ven in self.vens.values():
                same = old is not None and ven["id"] == old["id"]
                if ven["venName"] == document["venName"] and not same:
                    raise Problem(409, f"venName {document['venName']!r} is taken")
            document = {k: v for k, v in document.items() if k != "objectType"}
            document["targets"] = sorted(self.granted.get(client_id, ())) or None
        object_type = OBJECT_TYPE[kind]
        # A report is the client's document, just validated, plus our id, times and clientID:
        # validating it again would double the cost of the busiest path of a run.
        return self.stored(
            object_type,
            kind[:-1],
            document,
            keep=old,
            client_id=client_id,
            check=kind != "reports",
        )

    def log_report(self, client_id: str, operation: str, stored: Mapping[str, Any]) -> None:
        """Keep a report answered 2xx, in arrival order."""
        record = ReportRecord(len(self.report_log), now_epoch(), client_id, operation, dict(stored))
        self.report_log.append(record)
