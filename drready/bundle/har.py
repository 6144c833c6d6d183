"""``http.har``: the HTTP exchanges of the evidence as HAR 1.2, credentials redacted."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from drready import __version__
from drready.bundle.layout import iso, json_encoder
from drready.bundle.trace import format_address, parse_address
from drready.canonical import canonical_json
from drready.evidence.redact import (
    is_secret_key,
    redact,
    redact_body,
    redact_query,
    redact_text,
)


@dataclass
class _HttpMessage:
    record: Mapping[str, Any]
    is_request: bool
    start: tuple[str, str, str]  # (method, target, version) or (version, status, reason)
    headers: list[tuple[str, str]]
    body: bytes
    #: The body is the canonical JSON of an object or array the evidence holds (its values).
    json_body: bool = False


def _http_message(record: Mapping[str, Any]) -> _HttpMessage | None:
    data = bytes.fromhex(record["data_hex"]) if record["data_hex"] else b""
    if data:
        head, separator, body = data.partition(b"\r\n\r\n")
        if not separator:
            head, _, body = data.partition(b"\n\n")
        lines = head.decode("latin-1").splitlines()
        if not lines:
            return None
        parts = lines[0].split(" ", 2)
        parts += [""] * (3 - len(parts))
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers.append((name.strip(), value.strip()))
        is_request = not lines[0].startswith("HTTP/")
        return _HttpMessage(record, is_request, (parts[0], parts[1], parts[2]), headers, body)
    values = record.get("values") or {}
    raw_headers = values.get("headers") or []
    pairs = raw_headers.items() if isinstance(raw_headers, Mapping) else raw_headers
    headers = [(str(name), str(value)) for name, value in pairs]
    raw_body = values.get("body", "")
    body = (
        raw_body.encode("utf-8")
        if isinstance(raw_body, str)
        else canonical_json(raw_body).encode("utf-8")
    )
    json_body = isinstance(raw_body, (dict, list))
    version = str(values.get("http_version", "HTTP/1.1"))
    if "method" in values:
        start = (str(values["method"]), str(values.get("url", "")), version)
        return _HttpMessage(record, True, start, headers, body, json_body)
    if "status" in values:
        start = (version, str(values["status"]), str(values.get("status_text", "")))
        return _HttpMessage(record, False, start, headers, body, json_body)
    return None


def _header(message: _HttpMessage, name: str) -> str:
    for key, value in message.headers:
        if key.lower() == name:
            return value
    return ""


@lru_cache(maxsize=4096)  # a run sends the same few dozen headers thousands of times
def _har_header(name: str, value: str) -> tuple[tuple[str, Any], ...]:
    return tuple(redact({"name": name, "value": redact_text(value)}).items())


def _har_headers(message: _HttpMessage) -> list[dict[str, Any]]:
    return [dict(_har_header(name, value)) for name, value in message.headers]


@lru_cache(maxsize=4096)
def _redacted_text(text: str) -> str:
    return redact_text(text)


#: A JSON string in JSON text (a key or a value), escapes included.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _redactable(token: str) -> bool:
    """Whether :func:`redact` could change a JSON document because of this string of it: a
    credential's key (the key's value is replaced, or, as the name of a name/value pair, the
    pair's value), or a string :func:`redact_text` changes."""
    text = json.loads(token) if "\\" in token else token[1:-1]
    return is_secret_key(text) or redact_text(text) != text


#: Strings up to this long (as JSON) are judged once: a run's documents hold the same keys and
#: values again and again; a longer one (a blob) is judged each time, not kept.
_CACHED_TOKEN = 256
_redactable_short = lru_cache(maxsize=16384)(_redactable)


def _judged(token: str) -> bool:
    return _redactable_short(token) if len(token) <= _CACHED_TOKEN else _redactable(token)


def _unredacted_json(text: str) -> bool:
    """Whether ``redact_body(text)`` is ``text``, for the canonical JSON of an object or array.

    ``redact_body`` parses such a text (it starts with ``{`` or ``[`` and parses), redacts the
    document with ``redact`` and returns the text when nothing changed. ``redact`` changes a
    document only through a string of it: the value of a key ``is_secret_key`` names (keys are
    strings), the value of a name/value pair whose name ``is_secret_key`` names (a string), or a
    string whose credentials ``redact_text`` replaces; numbers, booleans and null stay. So when
    none of the document's strings is one of those, the text comes back as it is; when one is,
    the caller takes the whole path. Each string is found by a scan of the text and judged once
    per run (a test holds this equal to ``redact_body`` over many documents, credentials
    included): the parse and walk of every body were a third of the HAR's cost."""
    return not any(map(_judged, set(_JSON_STRING.findall(text))))


def _har_body(message: _HttpMessage) -> dict[str, Any]:
    mime = _header(message, "content-type")
    try:
        text = message.body.decode("utf-8")
    except UnicodeDecodeError:
        return {
            "mimeType": mime,
            "text": base64.b64encode(message.body).decode(),
            "encoding": "base64",
        }
    if text and message.json_body and _unredacted_json(text):
        return {"mimeType": mime, "text": text}
    return {"mimeType": mime, "text": redact_body(text, mime.lower()) if text else ""}


@lru_cache(maxsize=4096)  # a client polls the same few URLs
def _har_url(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The URL with its credential parameters redacted, and its query's (name, value) pairs."""
    parts = urlsplit(url)
    query = redact_query(parts.query)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return url, tuple(parse_qsl(query, keep_blank_values=True))


def _har_request(message: _HttpMessage) -> dict[str, Any]:
    method, target, version = message.start
    record = message.record
    if "://" in target:
        url = target
    else:
        host = _header(message, "host")
        peer = parse_address(str(record["peer"]))
        if not host:
            host = format_address(peer) if peer is not None and record["kind"] == "tx" else ""
            host = host or "localhost"
        port = peer[1] if peer is not None and record["kind"] == "tx" else 0
        scheme = str((record.get("values") or {}).get("scheme") or "")
        scheme = scheme or ("https" if port == 443 or host.endswith(":443") else "http")
        url = f"{scheme}://{host}{target if target.startswith('/') else '/' + target}"
    url, query = _har_url(url)
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": version,
        "cookies": [],
        "headers": _har_headers(message),
        "queryString": [{"name": k, "value": v} for k, v in query],
        "headersSize": -1,
        "bodySize": len(message.body),
    }
    if message.body:
        request["postData"] = _har_body(message)
    return request


def _har_response(message: _HttpMessage | None) -> dict[str, Any]:
    if message is None:  # no response was recorded
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "comment": "no response recorded",
        }
    version, status, reason = message.start
    content = {"size": len(message.body), **_har_body(message)}
    if not message.body:
        content.pop("text", None)
    return {
        "status": int(status) if status.isdigit() else 0,
        "statusText": reason,
        "httpVersion": version,
        "cookies": [],
        "headers": _har_headers(message),
        "content": content,
        "redirectURL": _redacted_text(_header(message, "location")),
        "headersSize": -1,
        "bodySize": len(message.body),
    }


def _har_entry(request: _HttpMessage | None, response: _HttpMessage | None) -> dict[str, Any]:
    first = request or response
    assert first is not None
    started = float(first.record["time"])
    wait = 0.0
    if request is not None and response is not None:
        wait = max(0.0, (float(response.record["time"]) - started) * 1000.0)
    custom: dict[str, Any] = {
        "request_seq": request.record["seq"] if request is not None else None,
        "response_seq": response.record["seq"] if response is not None else None,
        "test": first.record.get("test", ""),
    }
    entry: dict[str, Any] = {
        "startedDateTime": iso(started, "milliseconds"),
        "time": round(wait, 3),
        "request": _har_request(request)
        if request is not None
        else {
            "method": "",
            "url": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": -1,
            "comment": "no request recorded",
        },
        "response": _har_response(response),
        "cache": {},
        "timings": {"send": 0, "wait": round(wait, 3), "receive": 0},
        "_drready": custom,
    }
    peer = parse_address(str(first.record["peer"]))
    if peer is not None and request is not None and request.record["kind"] == "tx":
        entry["serverIPAddress"] = peer[0]
    return entry


def _paired(
    records: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[int, _HttpMessage | None, _HttpMessage | None]]:
    """(seq, request, response) of each HAR entry, in the order they complete."""
    pending: dict[str, list[_HttpMessage]] = {}
    for record in records:
        if record["channel"] != "http" or record["kind"] not in ("tx", "rx"):
            continue
        message = _http_message(record)
        if message is None:
            continue
        if message.is_request:
            pending.setdefault(str(record["peer"]), []).append(message)
            continue
        waiting = pending.get(str(record["peer"]), [])
        request = next((m for m in waiting if m.record["kind"] != record["kind"]), None)
        if request is not None:
            waiting.remove(request)
        yield (request or message).record["seq"], request, message
    for waiting in pending.values():
        for message in waiting:
            yield message.record["seq"], message, None


def har_entries(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The HAR entries of the evidence's HTTP exchanges, credentials redacted."""
    entries = [(seq, _har_entry(request, response)) for seq, request, response in _paired(records)]
    entries.sort(key=lambda item: item[0])
    return [entry for _seq, entry in entries]


def _log(entries: list[Any], run_id: str) -> dict[str, Any]:
    return {
        "version": "1.2",
        "creator": {"name": "drready", "version": __version__},
        "entries": entries,
        "comment": f"HTTP exchanges of drready run {run_id}, rebuilt from evidence.jsonl; "
        "credentials redacted"
        if run_id
        else "HTTP exchanges rebuilt from evidence.jsonl; credentials redacted",
    }


def build_har(records: Sequence[Mapping[str, Any]], *, run_id: str = "") -> str:
    """``http.har``: HAR 1.2 of the evidence's HTTP exchanges (an empty log when there are none),
    as :func:`har_bytes` writes it."""
    return har_bytes(records, run_id=run_id)[0].decode("utf-8")


#: ``json.dumps(entry, ensure_ascii=False)``.
_dumps = json_encoder((", ", ": "))
#: Where the entries go in the HAR's skeleton (a string no JSON encoder writes by itself).
_SLOT = "\x00drready-har-entries\x00"
#: The indentation of an entry in ``{"log": {"entries": [...]}}`` at ``indent=2``.
_ENTRY_INDENT = "\n      "


def har_bytes(records: Iterable[Mapping[str, Any]], *, run_id: str = "") -> tuple[bytes, int]:
    """``http.har`` and its number of entries: the document indented, each entry on a line of
    its own.

    Each entry is encoded as soon as it is paired, so a long server-topology run never holds
    every entry as objects and the whole document as one string at once (the bundle's peak
    memory was there). An entry is one line because the json module's C encoder does not
    indent: indented, the entries took most of the bundle's time."""
    encoded: list[tuple[int, bytes]] = []
    for seq, request, response in _paired(records):
        text = _dumps(_har_entry(request, response))
        encoded.append((seq, text.encode("utf-8")))
    encoded.sort(key=lambda item: item[0])
    count = len(encoded)
    if not encoded:
        empty = json.dumps({"log": _log([], run_id)}, ensure_ascii=False, indent=2) + "\n"
        return empty.encode("utf-8"), 0
    skeleton = json.dumps({"log": _log([_SLOT], run_id)}, ensure_ascii=False, indent=2) + "\n"
    slot = json.dumps(_SLOT, ensure_ascii=False).encode("utf-8")
    head, _, tail = skeleton.encode("utf-8").partition(slot)
    parts = [head]
    for index, (_seq, data) in enumerate(encoded):
        if index:
            parts.append(b"," + _ENTRY_INDENT.encode())
        parts.append(data)
        encoded[index] = (0, b"")  # released as it is copied into the parts
    parts.append(tail)
    return b"".join(parts), count
