"""The report document is built from a :class:`RunRecord` alone: no pytest session, no device."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from drready.model import Topology
from drready.profile import default_profile
from drready.report.json_report import validate_report
from drready.report.run_document import build_document, run_verdicts
from drready.run.ledger import RunContext, RunRecord, TestOutcome
from drready.run.options import run_options


def _record(**changes: object) -> RunRecord:
    options = run_options(
        profile_path=None,
        simulate="battery",
        faults=(),
        report_dir=Path("out"),
        time_scale=None,
        run_id="doc-1",
    )
    profile = default_profile("battery")
    given: dict[str, object] = {
        "options": options,
        "profile": profile,
        "started_at": 1_700_000_000.0,
        "context": RunContext(
            supported_topologies=frozenset(profile.device.topologies),
            run_topology=Topology.GATEWAY,
            today=date(2025, 1, 1),
        ),
        "outcomes": (
            TestOutcome("suite::test_power", "passed", "", ("BAT-2.2",)),
            TestOutcome("suite::test_energy", "failed", "expected 1 Wh", ("BAT-2.3",)),
        ),
    }
    given.update(changes)
    return RunRecord(**given)  # type: ignore[arg-type]


def test_a_record_of_a_run_in_progress_is_a_valid_report() -> None:
    document = build_document(_record(), "0.0-test")
    validate_report(document)
    verdicts = {r["id"]: r["verdict"] for r in document["requirements"]}
    assert verdicts["BAT-2.2"] == "pass" and verdicts["BAT-2.3"] == "fail"
    assert document["run_id"] == "doc-1" and document["complete"] is False
    assert document["finished_at"] is None and document["topology"] is None
    assert document["evidence"] == {"file": "evidence.jsonl"}


def test_a_finished_record_says_how_the_device_was_reached() -> None:
    record = _record(
        protocol="ECHONET Lite",
        topology=Topology.GATEWAY,
        device_info={"protocol": "ECHONET Lite", "topology": "gateway"},
        device_time_start=1_700_000_000.0,
        device_time_end=1_700_003_600.0,
        evidence_records=12,
        evidence_head_digest="ab" * 32,
        complete=True,
        exit_status=1,
        finished_at=1_700_000_010.0,
    )
    document = build_document(record, "0.0-test", run_verdicts(record))
    validate_report(document)
    assert document["binding"] == "ECHONET Lite (gateway)" and document["topology"] == "gateway"
    assert document["device_time"]["covered_s"] == 3600.0
    assert document["evidence"]["records"] == 12
    assert document["digests"]["evidence"] == "ab" * 32
    assert len(document["policy_notes"]) == 2  # plain ECHONET Lite control is said plainly
    assert document["finished_at"] is not None and document["exit_status"] == 1
