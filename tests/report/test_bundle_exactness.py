"""The bundle's fast paths give what the plain ones give: the chain walk's check of the canonical
form, the HAR's skipping of bodies nothing in which can be redacted, and the one pass that walks
the chain and builds the HAR together."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from drready.bundle import BundleError, pcapng, write_bundle
from drready.bundle import har as har_module
from drready.bundle import writer as writer_module
from drready.bundle.chain import Evidence, load_evidence, stream_evidence
from drready.bundle.har import _har_body, _HttpMessage, _unredacted_json, har_bytes
from drready.bundle.layout import as_text
from drready.canonical import canonical_json
from drready.evidence import GENESIS, EvidenceLog, Record
from drready.evidence.redact import REDACTED, find_secrets, redact_body
from tests.core.test_find_secrets import _texts

# --------------------------------------------------------------------------- the canonical form

#: A canonical record's fields as JSON text, each replaced in turn by the variants below.
CANONICAL = {
    "seq": "0",
    "time": "1800000000.25",
    "kind": '"tx"',
    "channel": '"http"',
    "peer": '"192.0.2.1:80"',
    "summary": '"GET /"',
    "data_hex": '"0a0b"',
    "values": '{"a":1}',
    "test": '""',
}
VARIANTS: dict[str, list[str]] = {
    "seq": ["0", "0.0", "-0.0", "false", '"0"', "null", "0e0", "00"],
    "time": [
        "5",
        "5.0",
        "1.5e-07",
        "1e+16",
        "1e16",
        "1E+16",
        "-0.0",
        "NaN",
        "Infinity",
        "-Infinity",
        "true",
        '"5.0"',
        "1800000000.250",
    ],
    "kind": ["5", "null", "true", "[]", "{}", '"t\\"x"', '"\\u00e9"', '"é"', '"\\ud800"'],
    "peer": ['"\\n"', '"\\u000a"', '"\\/"', '"\u2028"', '"\\u2028"', '"\\u007f"', '"\x7f"'],
    "summary": ['"a\\\\b"', '"\\t"', '"\\u0009"', '"日本"', '"\\u65e5"', '"\\ud83d\\ude00"'],
    "data_hex": [
        '""',
        '"zz"',
        '"a\\"b"',
        '"a\\\\b"',
        '"é"',
        '"²"',
        '"a b"',
        '"a\\nb"',
        '"\\u0030"',
        "5",
        "null",
        "[]",
        '"\\ud800"',
    ],
    "values": [
        "{}",
        "[]",
        '[["a",1]]',
        '""',
        "null",
        "0",
        "false",
        '{"a":NaN}',
        '{"a":1.0}',
        '{"a":1.00}',
        '{"a":"\\u00e9"}',
        '{"a":"é"}',
        '{"a": 1}',
        '{"a":{"b":[1,2,{"c":null}]}}',
        '{"b":1,"a":2}',
        '{"a":1,"a":2}',
        '{"a":true}',
        '{"a":-0.0}',
        '{"a":1e400}',
    ],
    "test": ["5", '"x"', '"\\u0000"', "null"],
}


def _line(fields: dict[str, str], *, order: list[str] | None = None, extra: str = "") -> str:
    names = order or [*fields, "prev"]
    parts = [f'"{n}":{fields[n]}' if n != "prev" else f'"prev":"{GENESIS}"' for n in names]
    return "{" + ",".join(parts) + extra + "}"


def _lines() -> list[str]:
    lines = [_line(CANONICAL)]
    for name, variants in VARIANTS.items():
        for variant in variants:
            lines.append(_line({**CANONICAL, name: variant}))
    names = [*CANONICAL, "prev"]
    lines.append(_line(CANONICAL, order=[names[1], names[0], *names[2:]]))  # two keys swapped
    lines.append(_line(CANONICAL, extra=',"more":1'))
    lines.append(_line(CANONICAL, order=[n for n in names if n != "test"]))  # test left out
    lines.append(_line(CANONICAL, order=[n for n in names if n != "values"]))
    lines.append(_line(CANONICAL, extra=',"seq":0'))  # a key twice
    lines.append(_line(CANONICAL).replace(",", ", ", 1))
    lines.append(" " + _line(CANONICAL))
    lines.append(_line(CANONICAL) + " ")
    lines.append(_line(CANONICAL).replace("{", "[", 1))
    lines.append('"a record"')
    lines.append("{")
    rng = random.Random(13)
    pool = [(name, variant) for name, variants in VARIANTS.items() for variant in variants]
    for _ in range(300):
        picked = dict(rng.sample(pool, 3))
        lines.append(_line({**CANONICAL, **picked}))
    return lines


def _reference(line: bytes) -> str | None:
    """What the walk said of a one-record log before its fast path: Record(**raw).line()
    compared with the line (a line whose text cannot be encoded back made it crash)."""
    try:
        raw = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "record 0 (line 1) altered: not UTF-8 text"
    except ValueError:
        return "record 0 (line 1) altered: not valid JSON"
    if not isinstance(raw, dict):
        return "record 0 (line 1) altered: not a JSON object"
    if raw.get("seq") != 0:
        return "seq"
    if raw.get("prev") != GENESIS:
        return "record 0 (line 1) altered: its prev is not the genesis digest"
    try:
        text = Record(**raw).line()
    except (TypeError, ValueError, AttributeError) as exc:
        return f"record 0 (line 1) altered: not a record of this log ({exc})"
    try:
        same = text.encode("utf-8") == line
    except UnicodeEncodeError:
        same = False  # the walk raised here; it refuses such a line now
    return None if same else "record 0 (line 1) altered: not in the canonical form the log writes"


def test_the_walk_refuses_exactly_the_lines_the_record_itself_would_not_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "evidence.jsonl"
    accepted = refused = 0
    for text in _lines():
        line = text.encode("utf-8")
        expected = _reference(line)
        if expected == "seq":  # a seq the walk reads as misplaced: not what this test is about
            continue
        path.write_bytes(line + b"\n")
        evidence = load_evidence(path)
        assert evidence.problem == expected, text
        if expected is None:
            assert evidence.head == hashlib.sha256(line).hexdigest()
            accepted += 1
        else:
            refused += 1
    assert accepted > 20 and refused > 200


def test_a_seq_true_in_the_second_record_is_refused(tmp_path: Path) -> None:
    """``true == 1``, so the seq check lets it through; Record.line() writes ``True``."""
    log = EvidenceLog(lambda: 1.0, tmp_path / "evidence.jsonl")
    log.add("note", "harness", "", "first")
    log.add("note", "harness", "", "second")
    log.close()
    path = tmp_path / "evidence.jsonl"
    first, second = path.read_bytes().splitlines()
    path.write_bytes(first + b"\n" + second.replace(b'{"seq":1,', b'{"seq":true,') + b"\n")
    assert load_evidence(path).problem == (
        "record 1 (line 2) altered: not in the canonical form the log writes"
    )


def test_a_line_with_a_lone_surrogate_is_refused_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_bytes(_line({**CANONICAL, "summary": '"\\ud800"'}).encode() + b"\n")
    assert load_evidence(path).problem == (
        "record 0 (line 1) altered: not in the canonical form the log writes"
    )


def test_a_log_written_by_the_log_walks_whole(tmp_path: Path) -> None:
    clock = itertools.count(1_800_000_000.0, 0.1)
    path = tmp_path / "evidence.jsonl"
    log = EvidenceLog(lambda: next(clock), path)
    odd = ["", "é", "\u2028", 'a"b\\c', "\x00\x1f", "日本語", "\U0001f600", "x" * 300]
    for index, text in enumerate(odd * 4):
        log.add(
            ["tx", "rx", "note", "measurement"][index % 4],
            ["http", "echonet", "harness", "meter"][index % 4],
            text,
            text,
            data=text.encode("utf-8"),
            values={"text": text, "n": index, "x": index / 7, "nan": float("nan"), "l": [text]},
        )
    log.close()
    evidence = load_evidence(path)
    assert (evidence.problem, evidence.count, evidence.head) == (None, len(log), log.head_digest)


# --------------------------------------------------------------------------- HAR bodies

KEYS = [
    "password",
    "Password",
    "user_password",
    "passwordHash",
    "pass-word",
    "passwd",
    "pwd",
    "secret",
    "clientSecret",
    "client_secret",
    "token",
    "access_token",
    "accessToken",
    "token_type",
    "tokens",
    "apiKey",
    "api_key",
    "x-api-key",
    "X-Api-Key",
    "x-a-p-i-k-e-y",
    "b.e.a.r.e.r",
    "privateKey",
    "private_key",
    "signingKey",
    "key",
    "keyId",
    "authorization",
    "Authorization",
    "cookie",
    "set-cookie",
    "credentials",
    "psk",
    "name",
    "value",
    "id",
    "venName",
    "objectType",
    "payloads",
    "values",
    "intervalPeriod",
    "url",
    "note",
    'a"b',
    "c\\d",
    "x\tapikey",
    "pa\u017fsword",
    "日本",
]
STRINGS = [
    "",
    "[redacted]",
    "plain",
    "Bearer abcdefghijkl",
    "bearer",
    "Basic dXNlcjpwYXNz",
    "password=hunter2",
    "token: abc",
    "https://h/x?access_token=abc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkdXQifQ.c2ln",
    "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----",
    "Authorization: Basic zz",
    "value",
    "password",
    "apiKey",
    'quote " and \\ backslash',
    "line\nbreak \u2028",
    "日本語",
    "pa\u017fsword=x",
    "2027-04-01T00:00:00Z",
]


def _document(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([*STRINGS, 0, 1.5, -2, True, False, None, float("nan")])
    if roll < 0.45:
        return [_document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.55:
        return {"name": rng.choice(KEYS), "value": _document(rng, depth + 1)}
    return {rng.choice(KEYS): _document(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _documents() -> list[Any]:
    rng = random.Random(13)
    made = [_document(rng) for _ in range(4000)]
    return [doc for doc in made if isinstance(doc, (dict, list))]


#: Content types a JSON body may come with: the HAR takes the JSON path for any of them.
MIME_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]


def _message(body: Any, mime: str) -> _HttpMessage:
    record = {"seq": 0, "time": 0.0, "kind": "rx", "peer": "", "test": ""}
    text = canonical_json(body)
    headers = [("Content-Type", mime)]
    return _HttpMessage(record, False, ("HTTP/1.1", "200", "OK"), headers, text.encode(), True)


def test_a_body_is_skipped_only_when_redact_body_gives_it_back_as_it_is() -> None:
    skipped = redacted = 0
    for index, body in enumerate(_documents()):
        mime = MIME_TYPES[index % len(MIME_TYPES)]
        message = _message(body, mime)
        text = message.body.decode("utf-8")
        expected = redact_body(text, mime)
        assert _har_body(message) == {"mimeType": mime, "text": expected}, text
        if _unredacted_json(text):
            assert expected == text
            skipped += 1
        redacted += expected != text
    # Both sides are exercised: bodies left as they are, and bodies with credentials.
    assert skipped > 300 and redacted > 300


def test_a_secret_key_alone_makes_the_body_go_the_whole_way() -> None:
    for body in ({"password": "x"}, [{"name": "apiKey", "value": 5}], {"x-a-p-i-k-e-y": "k"}):
        text = canonical_json(body)
        assert not _unredacted_json(text)
        assert REDACTED in redact_body(text, "application/json")
    text = canonical_json({"venName": "ven", "payloads": [1, 2.5, None, True]})
    assert _unredacted_json(text)


# --------------------------------------------------------------------------- the one pass


def _http_log(path: Path) -> EvidenceLog:
    clock = itertools.count(1_800_000_000.0, 0.25)
    log = EvidenceLog(lambda: next(clock), path)
    log.add("tx", "echonet", "192.0.2.10:3610", "GET", data=bytes.fromhex("1081000105ff01027d01"))
    for n in range(3):
        log.add("rx", "http", "192.0.2.30:40000", "GET", values={"method": "GET", "url": "/e"})
        log.add("tx", "http", "192.0.2.30:40000", "200", values={"status": 200, "body": {"n": n}})
        log.add("measurement", "meter", "", "power", values={"power_w": 1.5 * n})
    log.close()
    return log


def test_the_walk_streams_the_http_messages_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    log = _http_log(path)
    whole = load_evidence(path)
    evidence = Evidence()
    streamed = list(stream_evidence(path, evidence, lambda r: r["channel"] == "http"))
    assert streamed == [r for r in whole.records if r["channel"] == "http"]
    assert evidence.records == [r for r in whole.records if r["channel"] != "http"]
    assert (evidence.count, evidence.head, evidence.problem) == (len(log), log.head_digest, None)
    assert har_bytes(streamed) == har_bytes(whole.records)


def _rechain(path: Path, edit: Any) -> str:
    """Apply ``edit`` to the records and link them again: a log an attacker wrote whole."""
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    edit(records)
    previous, lines = GENESIS, []
    for raw in records:
        raw["prev"] = previous
        line = Record(**raw).line()
        lines.append(line + "\n")
        previous = hashlib.sha256(line.encode()).hexdigest()
    path.write_text("".join(lines), encoding="utf-8")
    return previous


def _run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    log = _http_log(run_dir / "evidence.jsonl")
    evidence = {"file": "evidence.jsonl", "records": len(log), "head_digest": log.head_digest}
    report = {"run_id": "r", "profile": {}, "evidence": evidence}
    (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return run_dir


def test_a_record_that_breaks_the_har_is_refused_as_the_chain_says(tmp_path: Path) -> None:
    """The HAR is built as the chain is walked: a record it cannot read (a hex digest that is
    not one, linked into a rewritten chain) must not hide the chain's break further on, nor
    the report's head, which the bundle refused before building anything."""
    run_dir = _run_dir(tmp_path)
    path = run_dir / "evidence.jsonl"

    def bad_hex(records: list[dict[str, Any]]) -> None:
        records[1]["data_hex"] = "zz"

    _rechain(path, bad_hex)  # a chain of its own, which report.json's head does not match
    with pytest.raises(BundleError, match="altered: its digest does not match the head digest"):
        write_bundle(run_dir, local_address=None)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"power"', b'"POWER"')  # breaks the link at record 4
    path.write_bytes(b"".join(lines))
    with pytest.raises(BundleError, match=r"record 3 \(line 4\) altered: its digest does not"):
        write_bundle(run_dir, local_address=None)
    assert sorted(p.name for p in run_dir.iterdir()) == ["evidence.jsonl", "report.json"]


def test_a_record_that_breaks_the_har_in_an_intact_chain_still_raises(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    path = run_dir / "evidence.jsonl"

    def bad_hex(records: list[dict[str, Any]]) -> None:
        records[1]["data_hex"] = "zz"

    head = _rechain(path, bad_hex)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    report["evidence"]["head_digest"] = head
    (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
    with pytest.raises(ValueError, match="non-hexadecimal"):
        write_bundle(run_dir, local_address=None)


def test_the_har_caches_start_empty_and_give_what_they_were_given() -> None:
    """The header, URL and string caches are pure memos: a second HAR of the same records is
    the first one, byte for byte, whether the caches are warm or not."""
    records = [
        {
            "seq": n,
            "time": 1.0 + n,
            "kind": "rx" if n % 2 == 0 else "tx",
            "channel": "http",
            "peer": "192.0.2.1:1000",
            "data_hex": "",
            "test": "",
            "values": {"method": "GET", "url": "/x?token=abc&a=1", "headers": [["Cookie", "s"]]}
            if n % 2 == 0
            else {"status": 200, "headers": [["Location", "/y?password=p"]], "body": {"n": n}},
        }
        for n in range(6)
    ]
    warm = har_bytes(records)
    for cached in (
        har_module._har_header,
        har_module._har_url,
        har_module._redactable_short,
        har_module._redacted_text,
    ):
        cached.cache_clear()
    assert har_bytes(records) == warm
    assert b"abc" not in warm[0] and b"=p" not in warm[0]


# --------------------------------------------------------------------------- the traces


def _word_sum_checksum(data: bytes) -> int:
    """RFC 1071 as the trace computed it: every 16-bit word summed, carries folded back."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_the_checksum_is_the_word_sum_one() -> None:
    rng = random.Random(13)
    cases = [b"", b"\0", b"\0\0", b"\xff\xff", b"\xff", b"\xff\xff" * 40, b"\0\x01" * 3]
    cases += [b"\xff\xfe", b"\x00\x01" + b"\xff\xfe", bytes([0xFF] * 7)]
    cases += [rng.randbytes(rng.randint(0, 90)) for _ in range(3000)]
    cases += [bytes(rng.choice([0, 0xFF]) for _ in range(rng.randint(1, 12))) for _ in range(500)]
    for data in cases:
        assert pcapng._checksum(data) == _word_sum_checksum(data), data.hex()


# --------------------------------------------------------------------------- the payloads

ENDINGS = [
    "Bearer",
    "Bearer ",
    "password=",
    "password=***",
    "password=null",
    "token: [reda",
    "Cookie: ",
    "Cookie:",
    "Basic dXNlcjpwYXNz",
    "-----BEGIN RSA PRIVATE KEY-----",
    "eyJabcd.eyJabcd.",
    "\n",
    " ",
    "x",
    "\xff",
]
STARTS = ["[redacted]", "Authorization: x", "Bearer abcdefghijkl", "=abc", ":", "\n", "x", "\xfe"]


def _payload_texts(rng: random.Random, pool: list[str]) -> list[str]:
    texts = []
    for _ in range(rng.randint(1, 8)):
        text = rng.choice(pool) if rng.random() < 0.6 else ""
        if rng.random() < 0.5:
            text = rng.choice(STARTS) + text
        if rng.random() < 0.5:
            text += rng.choice(ENDINGS)
        texts.append(text or "x")
    return texts


def test_payloads_scanned_together_give_what_they_give_one_by_one() -> None:
    rng = random.Random(13)
    pool = _texts()
    alone_found = 0
    for _ in range(3000):
        texts = _payload_texts(rng, pool)
        records = [
            {"seq": n, "channel": "modbus", "data_hex": text.encode("latin-1", "replace").hex()}
            for n, text in enumerate(texts)
        ]
        one_by_one = [
            f"evidence.jsonl: record {n} data: {hit}"
            for n, text in enumerate(texts)
            for hit in find_secrets(as_text(text.encode("latin-1", "replace")))
        ]
        assert writer_module._scan_evidence(records) == one_by_one, texts
        alone_found += bool(one_by_one)
    assert alone_found > 500
