"""The evidence bundle: what it holds, that tshark reads its trace, that any change to it is
found and named, and that no credential reaches it.

One real battery run and one real combined run (``-k identity``, to stay short) are made once per
module; every test works on its own copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drready import __version__
from drready.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    BundleError,
    build_har,
    build_profile,
    build_trace,
    manifest_sha256,
    verify_bundle,
    write_bundle,
    write_combined_manifest,
    write_manifest,
)
from drready.bundle.chain import load_evidence
from drready.bundle.har import har_bytes, har_entries
from drready.bundle.pcapng import INBOUND, OUTBOUND, parse_udp, read_pcapng, udp_packet
from drready.evidence import GENESIS, EvidenceLog
from drready.evidence.redact import (
    REDACTED,
    find_secrets,
    is_secret_key,
    redact,
    redact_http_message,
    redact_text,
)
from tests.helpers import drready_run_ok

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

LOCAL = ("127.0.0.1", 3610)

#: Every file a single-class run's bundle holds today (the recorder's, then the bundle's own).
BUNDLE_FILES = (
    "report.json",
    "junit.xml",
    "evidence.jsonl",
    "trace.pcapng",
    "http.har",
    "measurements.jsonl",
    "profile.json",
    "manifest.json",
)

BEARER = "Bearer abcdefghijklmnopqrstuvwxyz0123456789"
PASSWORD = "hunter2-correct-horse"


@pytest.fixture(scope="module")
def battery_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("battery") / "run"
    drready_run_ok(run_dir, "--simulate", "battery")
    write_bundle(run_dir, local_address=LOCAL)
    return run_dir


@pytest.fixture
def bundle(battery_run: Path, tmp_path: Path) -> Path:
    """A copy of the battery run's bundle, this test's to change."""
    copy = tmp_path / "run"
    shutil.copytree(battery_run, copy)
    return copy


@pytest.fixture(scope="module")
def combined_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("combined") / "run"
    drready_run_ok(run_dir, "--binding", "echonet", "--", "-k", "identity")
    for part in ("battery", "heatpump", "hybrid"):
        write_bundle(run_dir / part, local_address=LOCAL)
    write_combined_manifest(run_dir)
    return run_dir


@pytest.fixture
def combined(combined_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "combined"
    shutil.copytree(combined_run, copy)
    return copy


# --------------------------------------------------------------------------- helpers


def _records(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "evidence.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _datagrams(run_dir: Path) -> list[dict[str, Any]]:
    return [r for r in _records(run_dir) if r["channel"] == "echonet" and r["kind"] in ("tx", "rx")]


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _reseal(run_dir: Path, change: Callable[[dict[str, Any]], None] | None = None) -> None:
    """What an attacker who knows the format does after an edit: recompute every file's digest
    in manifest.json, apply ``change`` to it, and recompute its own digest."""
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for name in manifest["files"]:
        data = (run_dir / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    if change is not None:
        change(manifest)
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    manifest["manifest_sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _edit_evidence(run_dir: Path, edit: Callable[[list[str]], None]) -> None:
    path = run_dir / "evidence.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    edit(lines)
    path.write_text("".join(lines), encoding="utf-8")


def _first(run_dir: Path) -> str:
    problems = verify_bundle(run_dir)
    assert problems, "the change went unnoticed"
    return problems[0]


# --------------------------------------------------------------------------- an untouched bundle


def test_an_untouched_bundle_verifies(bundle: Path) -> None:
    assert verify_bundle(bundle) == []
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    report = json.loads((bundle / "report.json").read_text(encoding="utf-8"))
    assert (manifest["format"], manifest["format_version"]) == (
        BUNDLE_FORMAT,
        BUNDLE_FORMAT_VERSION,
    )
    assert manifest["kind"] == "run"
    assert set(manifest["files"]) == set(BUNDLE_FILES) - {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (bundle / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    evidence = manifest["evidence"]
    assert evidence["records"] == report["evidence"]["records"] == len(_records(bundle))
    assert evidence["head_digest"] == report["evidence"]["head_digest"]
    assert evidence["chain"]["algorithm"] == "sha256"
    assert evidence["chain"]["genesis"] == GENESIS
    assert manifest["trace"]["local_address"] == "127.0.0.1:3610"
    assert (
        manifest_sha256(bundle)
        == hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    )


def test_the_derived_files_hold_what_the_evidence_and_the_report_say(bundle: Path) -> None:
    records = _records(bundle)
    report = json.loads((bundle / "report.json").read_text(encoding="utf-8"))
    har = json.loads((bundle / "http.har").read_text(encoding="utf-8"))
    assert har["log"]["version"] == "1.2"
    assert har["log"]["creator"] == {"name": "drready", "version": __version__}
    assert har["log"]["entries"] == []  # no HTTP in a gateway-topology run
    lines = (bundle / "measurements.jsonl").read_text(encoding="utf-8").splitlines()
    measured = [r for r in records if r["kind"] == "measurement"]
    assert len(lines) == len(measured) > 100
    for line, record in zip(lines, measured, strict=True):
        assert json.loads(line) == {
            "seq": record["seq"],
            "time": record["time"],
            "channel": record["channel"],
            "test": record["test"],
            "values": record["values"],
        }
    profile = (bundle / "profile.json").read_text(encoding="utf-8")
    assert json.loads(profile) == report["profile"]
    assert profile == json.dumps(
        report["profile"], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


def test_tshark_reads_the_trace_and_its_payloads_are_the_evidence(bundle: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark is not None, "tshark is needed for this test (apt-get install tshark)"
    fields = ("udp.payload", "frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "frame.comment")
    command = [tshark, "-n", "-r", str(bundle / "trace.pcapng"), "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    datagrams = _datagrams(bundle)
    assert len(rows) == len(datagrams) > 1000
    assert [row[0] for row in rows] == [r["data_hex"] for r in datagrams]
    for row, record in zip(rows, datagrams, strict=True):
        assert int(Decimal(row[1]) * 1_000_000) == round(record["time"] * 1_000_000)
        peer_host = record["peer"].rpartition(":")[0]
        src, dst = ("127.0.0.1", peer_host) if record["kind"] == "tx" else (peer_host, "127.0.0.1")
        assert (row[2], row[3], row[4]) == (src, dst, "3610")
        assert row[5].startswith(f"evidence seq {record['seq']}")
    # The multicast discovery went to the ECHONET Lite group.
    assert any(row[3] == "224.0.23.0" for row in rows)
    # Checksums are right: tshark's expert finds nothing but the packet comments.
    expert = subprocess.run(
        [
            *(tshark, "-n", "-r", str(bundle / "trace.pcapng"), "-q", "-z", "expert"),
            *("-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert expert.returncode == 0, expert.stderr
    assert "Bad checksum" not in expert.stdout and "Error" not in expert.stdout


def test_the_trace_reads_back_with_directions(bundle: Path) -> None:
    packets = read_pcapng((bundle / "trace.pcapng").read_bytes())
    datagrams = _datagrams(bundle)
    assert len(packets) == len(datagrams)
    for packet, record in zip(packets, datagrams, strict=True):
        assert packet.direction == (OUTBOUND if record["kind"] == "tx" else INBOUND)
        assert parse_udp(packet.data)[2].hex() == record["data_hex"]


# --------------------------------------------------------------------------- changes are found


@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_a_one_byte_change_in_any_file_is_found_and_named(bundle: Path, name: str) -> None:
    _flip_middle_byte(bundle / name)
    assert _first(bundle).startswith(f"{name}: ")


def test_a_one_byte_change_in_any_other_file_of_the_bundle_is_found(bundle: Path) -> None:
    # Whatever else the run directory holds now or later (plots, a declaration) is covered too.
    others = [p for p in sorted(bundle.rglob("*")) if p.is_file()]
    for path in others:
        name = path.relative_to(bundle).as_posix()
        if name in BUNDLE_FILES:
            continue
        original = path.read_bytes()
        _flip_middle_byte(path)
        assert _first(bundle).startswith(f"{name}: ")
        path.write_bytes(original)
        assert verify_bundle(bundle) == []


@pytest.mark.parametrize("name", [n for n in BUNDLE_FILES if n != "manifest.json"])
def test_a_deleted_file_is_named(bundle: Path, name: str) -> None:
    (bundle / name).unlink()
    assert _first(bundle) == f"{name}: missing"


def test_a_deleted_manifest_is_named(bundle: Path) -> None:
    (bundle / "manifest.json").unlink()
    assert verify_bundle(bundle) == ["manifest.json: missing"]


@pytest.mark.parametrize("name", ["notes.txt", ".DS_Store", "extra/capture.pcap"])
def test_an_added_file_is_named(bundle: Path, name: str) -> None:
    path = bundle / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("added later\n", encoding="utf-8")
    assert verify_bundle(bundle) == [f"{name}: added after the run (not in manifest.json)"]


def _alter_summary(seq: int) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        record = json.loads(lines[seq])
        record["summary"] += " (edited)"
        lines[seq] = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"

    return edit


def _alter_data(lines: list[str]) -> None:
    # The first datagram at or after line 43: its payload changes by one hex digit.
    for index in range(42, len(lines)):
        record = json.loads(lines[index])
        if record["data_hex"]:
            digit = "1" if record["data_hex"][-1] != "1" else "2"
            record["data_hex"] = record["data_hex"][:-1] + digit
            lines[index] = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            return
    raise AssertionError("no datagram after record 42")


def _remove(seq: int) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        del lines[seq]

    return edit


def _duplicate(seq: int) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        lines.insert(seq + 1, lines[seq])

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _alter_summary(42),
            "evidence.jsonl: record 42 (line 43) altered: its digest does not match the next "
            "record's prev",
        ),
        (_remove(42), "evidence.jsonl: record 42 removed: line 43 holds record 43"),
        (
            _duplicate(41),
            "evidence.jsonl: line 43 inserted: it holds a second record 41 (record 42 expected)",
        ),
        (_alter_summary(0), "evidence.jsonl: record 0 (line 1) altered:"),
    ],
    ids=["altered", "removed", "inserted", "first-altered"],
)
def test_an_evidence_record_changed_is_named_even_with_the_manifest_fixed(
    bundle: Path, edit: Callable[[list[str]], None], expected: str
) -> None:
    _edit_evidence(bundle, edit)
    _reseal(bundle)  # evidence.jsonl's digest in the manifest now matches the edited file
    assert _first(bundle).startswith(expected)


def test_an_altered_datagram_is_named_by_seq_and_in_the_trace_check(bundle: Path) -> None:
    _edit_evidence(bundle, _alter_data)
    _reseal(bundle)
    problems = verify_bundle(bundle)
    assert problems[0].startswith("evidence.jsonl: record ")
    assert "altered: its digest does not match the next record's prev" in problems[0]


def test_an_altered_last_record_is_named(bundle: Path) -> None:
    count = len(_records(bundle))
    _edit_evidence(bundle, _alter_summary(count - 1))
    _reseal(bundle)
    assert _first(bundle) == (
        f"evidence.jsonl: record {count - 1} (line {count}) altered: its digest does not match "
        "the head digest in manifest.json"
    )


def test_a_cut_tail_is_found_against_the_report_when_the_manifest_is_rewritten(
    bundle: Path,
) -> None:
    records = _records(bundle)
    count = len(records)
    _edit_evidence(bundle, lambda lines: lines.__delitem__(slice(count - 3, None)))

    def fix(manifest: dict[str, Any]) -> None:
        kept = (bundle / "evidence.jsonl").read_text(encoding="utf-8").splitlines()[-1]
        manifest["evidence"]["records"] = count - 3
        manifest["evidence"]["head_digest"] = hashlib.sha256(kept.encode()).hexdigest()

    _reseal(bundle, fix)
    problems = verify_bundle(bundle)
    assert (
        f"evidence.jsonl: records {count - 3} to {count - 1} removed from the end "
        f"(report.json says {count} records)"
    ) in problems


def test_a_trace_packet_changed_with_the_manifest_fixed_is_named(bundle: Path) -> None:
    datagram = _datagrams(bundle)[10]
    payload = bytes.fromhex(datagram["data_hex"])
    path = bundle / "trace.pcapng"
    data = path.read_bytes()
    at = data.index(payload)
    path.write_bytes(data[:at] + bytes([payload[0] ^ 0xFF]) + data[at + 1 :])
    _reseal(bundle)
    assert verify_bundle(bundle) == [
        f"trace.pcapng: packet 11 (evidence record {datagram['seq']}): its UDP payload differs "
        "from the evidence's data"
    ]


def test_derived_files_changed_with_the_manifest_fixed_are_named(bundle: Path) -> None:
    path = bundle / "measurements.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[4])
    record["values"]["power_w"] = 1234.0
    lines[4] = json.dumps(record, separators=(",", ":")) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    (bundle / "profile.json").write_text('{"device":{}}', encoding="utf-8")
    _reseal(bundle)
    assert verify_bundle(bundle) == [
        f"measurements.jsonl: line 5 differs from evidence record {record['seq']}",
        "profile.json: differs from the profile in report.json",
    ]


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a run directory"):
        verify_bundle(tmp_path)
    with pytest.raises(BundleError, match="not a directory"):
        verify_bundle(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="not a run directory"):
        write_bundle(tmp_path, local_address=None)


# --------------------------------------------------------------------------- files added later


def test_a_declaration_added_later_is_recorded_and_then_covered(bundle: Path) -> None:
    declaration = bundle / "declaration.html"
    declaration.write_text("<html>declaration</html>\n", encoding="utf-8")
    assert verify_bundle(bundle) == ["declaration.html: added after the run (not in manifest.json)"]
    write_manifest(bundle)
    assert verify_bundle(bundle) == []
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["added_after_run"]) == ["declaration.html"]
    # Rendered again: a file added after the run may be replaced ...
    declaration.write_text("<html>declaration, again</html>\n", encoding="utf-8")
    write_manifest(bundle)
    assert verify_bundle(bundle) == []
    _flip_middle_byte(declaration)
    assert _first(bundle).startswith("declaration.html: altered")
    # ... a file of the run may not, and the manifest is left as it was.
    write_manifest(bundle)
    before = (bundle / "manifest.json").read_bytes()
    _flip_middle_byte(bundle / "junit.xml")
    with pytest.raises(BundleError, match=r"junit\.xml: altered"):
        write_manifest(bundle)
    assert (bundle / "manifest.json").read_bytes() == before


def test_a_bundle_written_twice_is_the_same_bundle(bundle: Path) -> None:
    names = [n for n in BUNDLE_FILES if n != "manifest.json"]
    before = {n: (bundle / n).read_bytes() for n in names}
    write_bundle(bundle, local_address=LOCAL)
    assert {n: (bundle / n).read_bytes() for n in names} == before
    assert verify_bundle(bundle) == []


# --------------------------------------------------------------------------- a combined run


def test_a_combined_run_verifies_and_a_change_in_a_part_is_named(combined: Path) -> None:
    assert verify_bundle(combined) == []
    manifest = json.loads((combined / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "combined"
    assert sorted(manifest["parts"]) == ["battery", "heatpump", "hybrid"]
    assert list(manifest["files"]) == ["junit.xml", "report.json"]
    for part in ("battery", "heatpump", "hybrid"):
        assert verify_bundle(combined / part) == []

    _flip_middle_byte(combined / "heatpump" / "evidence.jsonl")
    first = _first(combined)
    assert first.startswith("heatpump/evidence.jsonl: record ")
    assert "altered" in first


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: _flip_middle_byte(d / "report.json"), "report.json: altered"),
        (lambda d: _flip_middle_byte(d / "battery" / "trace.pcapng"), "battery/trace.pcapng: "),
        (lambda d: (d / "hybrid" / "junit.xml").unlink(), "hybrid/junit.xml: missing"),
        (lambda d: shutil.rmtree(d / "battery"), "battery/: missing"),
        (
            lambda d: (d / "hybrid" / "notes.txt").write_text("x"),
            "hybrid/notes.txt: added after the run (not in manifest.json)",
        ),
        (
            lambda d: (d / "notes.txt").write_text("x"),
            "notes.txt: added after the run (not in manifest.json)",
        ),
        (lambda d: _reseal(d / "battery"), "battery/manifest.json: altered"),
    ],
    ids=[
        "report",
        "part-trace",
        "part-missing-file",
        "part-gone",
        "part-added",
        "added",
        "part-manifest",
    ],
)
def test_changes_to_a_combined_run_are_named(
    combined: Path, change: Callable[[Path], Any], expected: str
) -> None:
    change(combined)
    assert _first(combined).startswith(expected)


def test_a_combined_declaration_added_later(combined: Path) -> None:
    (combined / "declaration.html").write_text("<html/>\n", encoding="utf-8")
    (combined / "battery" / "declaration.html").write_text("<html/>\n", encoding="utf-8")
    assert len(verify_bundle(combined)) == 2
    write_manifest(combined)
    assert verify_bundle(combined) == []


# --------------------------------------------------------------------------- credentials


def test_no_bundle_file_holds_a_credential(bundle: Path, combined: Path) -> None:
    for root in (bundle, combined):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                text = path.read_bytes().decode("latin-1")
                assert find_secrets(text) == [], path


def _http_run(tmp_path: Path, *, redacted: bool, profile: dict[str, Any] | None = None) -> Path:
    """A small run directory whose evidence holds ECHONET Lite and HTTP exchanges."""
    run_dir = tmp_path / "http-run"
    clock = iter(1_800_000_000.0 + 0.25 * n for n in range(100))
    log = EvidenceLog(lambda: next(clock), run_dir / "evidence.jsonl")
    log.add("tx", "echonet", "192.0.2.10:3610", "GET", data=bytes.fromhex("1081000105ff01027d01"))
    request = (
        b"POST /oauth/token?client_id=drready&client_secret=s3cr3t-value HTTP/1.1\r\n"
        b"Host: dut.example:8443\r\nAuthorization: " + BEARER.encode() + b"\r\n"
        b"Content-Type: application/json\r\n\r\n"
        b'{"user": "lab", "password": "' + PASSWORD.encode() + b'"}'
    )
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: sid=0123456789\r\n\r\n"
        b'{"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkdXQifQ.c2lnbmF0dXJl"}'
    )
    fix = redact_http_message if redacted else (lambda data: data)
    log.add("tx", "http", "192.0.2.20:8443", "POST /oauth/token", data=fix(request))
    log.add("rx", "http", "192.0.2.20:8443", "200 OK", data=fix(response))
    log.add(
        "rx",
        "http",
        "192.0.2.30:40000",
        "GET /events",
        values={"method": "GET", "url": "/events?token=abc123", "headers": {"X-Api-Key": "k"}},
    )
    log.add("tx", "http", "192.0.2.30:40000", "204", values={"status": 204})
    log.add("measurement", "meter", "", "power", values={"power_w": 12.5})
    log.close()
    report = {
        "run_id": "http-run",
        "profile": profile or {"device": {"class": "battery"}},
        "evidence": {
            "file": "evidence.jsonl",
            "records": len(log),
            "head_digest": log.head_digest,
        },
    }
    (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return run_dir


def test_http_exchanges_come_out_redacted_in_the_har(tmp_path: Path) -> None:
    run_dir = _http_run(tmp_path, redacted=True)
    write_bundle(run_dir, local_address=LOCAL)
    assert verify_bundle(run_dir) == []
    har = json.loads((run_dir / "http.har").read_text(encoding="utf-8"))
    first, second = har["log"]["entries"]
    headers = {h["name"]: h["value"] for h in first["request"]["headers"]}
    assert headers["Authorization"] == REDACTED
    assert first["request"]["url"].endswith("client_id=drready&client_secret=[redacted]")
    assert json.loads(first["request"]["postData"]["text"]) == {"user": "lab", "password": REDACTED}
    assert {h["name"]: h["value"] for h in first["response"]["headers"]}["Set-Cookie"] == REDACTED
    assert json.loads(first["response"]["content"]["text"]) == {"access_token": REDACTED}
    assert first["_drready"] == {"request_seq": 1, "response_seq": 2, "test": ""}
    assert second["request"]["url"] == "http://localhost/events?token=[redacted]"
    assert second["request"]["headers"] == [{"name": "X-Api-Key", "value": REDACTED}]
    assert second["response"]["status"] == 204
    for path in run_dir.iterdir():
        data = path.read_bytes()
        for secret in (BEARER.split()[1], PASSWORD, "s3cr3t-value", "abc123", "0123456789"):
            assert secret.encode() not in data, (path, secret)
            assert secret.encode().hex().encode() not in data, (path, secret)
        assert find_secrets(data.decode("latin-1")) == [], path


def test_the_har_redacts_what_the_evidence_did_not(tmp_path: Path) -> None:
    run_dir = _http_run(tmp_path, redacted=False)
    har = build_har(_records(run_dir))
    assert BEARER.split()[1] not in har and PASSWORD not in har and "s3cr3t-value" not in har
    assert find_secrets(har) == []
    # The raw messages are in the evidence (hex-encoded), so the bundle is refused, and nothing
    # is written.
    with pytest.raises(BundleError, match=r"evidence\.jsonl: record 1 data: "):
        write_bundle(run_dir, local_address=LOCAL)
    assert sorted(p.name for p in run_dir.iterdir()) == ["evidence.jsonl", "report.json"]


@pytest.mark.parametrize("redacted", [True, False])
def test_the_streamed_har_is_the_har_byte_for_byte(tmp_path: Path, redacted: bool) -> None:
    """The bundle writes http.har entry by entry (its peak memory was the whole document at
    once): the same bytes as build_har, the same entries as har_entries."""
    records = _records(_http_run(tmp_path, redacted=redacted))
    data, count = har_bytes(records, run_id="run-1")
    assert data == build_har(records, run_id="run-1").encode("utf-8")
    assert count == len(har_entries(records)) > 0
    assert json.loads(data)["log"]["entries"] == har_entries(records)
    assert har_bytes([], run_id="x") == (build_har([], run_id="x").encode("utf-8"), 0)


def test_evidence_loaded_without_its_http_messages_still_walks_every_record(
    tmp_path: Path,
) -> None:
    """The bundle streams the HTTP messages instead of holding them: the chain is walked, the
    count and head are the whole log's, only the records kept differ."""
    path = _http_run(tmp_path, redacted=True) / "evidence.jsonl"
    whole = load_evidence(path)
    lean = load_evidence(path, keep=lambda line: b'"channel":"http"' not in line)
    assert (lean.count, lean.head, lean.problem) == (whole.count, whole.head, None)
    assert lean.records == [r for r in whole.records if r["channel"] != "http"]
    assert len(lean.records) < lean.count


def test_a_profile_password_comes_out_redacted_and_a_report_holding_it_is_refused(
    tmp_path: Path,
) -> None:
    profile = {
        "device": {"class": "battery"},
        "server": {"url": "https://dr.example", "password": PASSWORD, "client_secret": "xyz"},
    }
    assert json.loads(build_profile({"profile": profile})) == {
        "device": {"class": "battery"},
        "server": {"url": "https://dr.example", "password": REDACTED, "client_secret": REDACTED},
    }
    run_dir = _http_run(tmp_path, redacted=True, profile=profile)
    with pytest.raises(BundleError, match=r"report\.json: credential pair at line 1"):
        write_bundle(run_dir, local_address=LOCAL)
    assert not (run_dir / "manifest.json").exists()
    assert not (run_dir / "profile.json").exists()


def test_the_evidence_log_redacts_values(tmp_path: Path) -> None:
    log = EvidenceLog(lambda: 1.0, tmp_path / "evidence.jsonl")
    record = log.add(
        "note",
        "harness",
        "",
        "login",
        values={"user": "lab", "password": PASSWORD, "nested": [{"api_key": "k1"}], "n": None},
    )
    log.close()
    assert dict(record.values) == {
        "user": "lab",
        "password": REDACTED,
        "nested": [{"api_key": REDACTED}],
        "n": None,
    }
    assert PASSWORD not in (tmp_path / "evidence.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "PEM"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----", "PEM"),
        (f"Authorization: {BEARER}", "Bearer token"),
        ('{"Authorization": "Basic bGFiOmh1bnRlcjI="}', "HTTP Basic credentials"),
        ("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkdXQifQ.c2ln", "JWT"),
        (f"password={PASSWORD}", "credential pair"),
        (f'{{"passwd": "{PASSWORD}"}}', "credential pair"),
        ("api_key: 0123abcd", "credential pair"),
        ("Cookie: sid=1", "HTTP credential header"),
    ],
)
def test_find_secrets_finds_each_kind_and_redact_text_removes_it(text: str, kind: str) -> None:
    found = find_secrets(text)
    assert any(kind in hit for hit in found), found
    assert all(PASSWORD not in hit and "abcdefghij" not in hit for hit in found)
    assert find_secrets(redact_text(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        'password="[redacted]"',
        '{"password": null, "token": ""}',
        "password=***",
        'WWW-Authenticate: Bearer realm="drready"',
        "Basic settings of the device",
        "the token bucket refills",
        "-----BEGIN PUBLIC KEY-----",
    ],
)
def test_find_secrets_leaves_what_is_not_a_credential(text: str) -> None:
    assert find_secrets(text) == []


def test_redact_keys() -> None:
    for key in ("password", "Passwd", "client_secret", "clientSecret", "api_key", "X-Api-Key"):
        assert is_secret_key(key), key
    for key in ("authorization", "Proxy-Authorization", "private_key", "access_token", "Cookie"):
        assert is_secret_key(key), key
    for key in ("pass", "passed", "tokens_used", "token_endpoint", "key", "monkey", "power_w"):
        assert not is_secret_key(key), key
    assert redact({"a": {"b": [{"token": "t", "keep": 1}]}, "headers": [("x", "y")]}) == {
        "a": {"b": [{"token": REDACTED, "keep": 1}]},
        "headers": [("x", "y")],
    }


# --------------------------------------------------------------------------- pcapng itself


def test_an_ipv6_trace_is_read_by_tshark(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark is not None, "tshark is needed for this test (apt-get install tshark)"
    records = [
        {
            "seq": 0,
            "time": 1_800_000_000.123456,
            "kind": "tx",
            "channel": "echonet",
            "peer": "fe80::1:3610",
            "data_hex": "1081000105ff01027d016201d300",
            "test": "",
        },
        {
            "seq": 1,
            "time": 1_800_000_000.5,
            "kind": "rx",
            "channel": "echonet",
            "peer": "[2001:db8::2]:3610",
            "data_hex": "10810001027d0105ff017201d30400000000",
            "test": "t",
        },
    ]
    path = tmp_path / "v6.pcapng"
    path.write_bytes(build_trace(records, ("::1", 3610)))
    result = subprocess.run(
        [
            *(tshark, "-n", "-r", str(path), "-T", "fields"),
            *("-e", "ipv6.src", "-e", "ipv6.dst", "-e", "udp.payload", "-e", "frame.time_epoch"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [line.split("\t") for line in result.stdout.splitlines()] == [
        ["::1", "fe80::1", records[0]["data_hex"], "1800000000.123456000"],
        ["2001:db8::2", "::1", records[1]["data_hex"], "1800000000.500000000"],
    ]


def test_udp_packets_round_trip() -> None:
    for source, destination in ((("192.0.2.1", 1), ("192.0.2.2", 3610)), (("::1", 5), ("::2", 6))):
        packet = udp_packet(source, destination, b"\x10\x81payload", ident=7)
        assert parse_udp(packet) == (source, destination, b"\x10\x81payload")
