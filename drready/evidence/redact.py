"""Keep credentials out of everything a run leaves behind.

Two tools, used where a run's data is recorded and where its evidence bundle is written:

- :func:`redact` replaces the value of every credential-like key of a mapping (recursively, lists
  included) with ``"[redacted]"``: ``password``, ``passwd``, ``secret``, ``token``, ``api_key``,
  ``authorization``, ``client_secret``, ``private_key``, ``cookie`` and their compounds
  (``access_token``, ``mqtt_password``, ``X-Api-Key``, ``clientSecret`` ...). A ``{"name": ...,
  "value": ...}`` pair (HAR headers, query strings, cookies) whose name is such a key has its
  value redacted too, and any other string has what :func:`find_secrets` would find in it
  redacted (``/events?token=...``). :func:`redact_text` and :func:`redact_http_message` do the
  same for free text and for a raw HTTP/1.x message (headers, query, JSON or form body).
- :func:`find_secrets` looks for what must never be written anywhere: PEM private key blocks,
  ``Bearer`` tokens, HTTP ``Basic`` credentials, JWTs, ``password=...`` style pairs (also in JSON,
  ``"password": "..."``) and raw ``Authorization:``/``Cookie:`` header lines. It reports where
  (line and column) and what kind, never the secret itself, so its findings can be printed.

``None``, empty values and values already ``"[redacted]"`` are left alone and are not findings.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"

#: A key naming a credential when it is the key's last word ("access_token", "clientSecret").
_LAST_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "psk",
    }
)
#: ... or anywhere in the key ("password_hash" still says too much).
_ANY_WORDS = frozenset({"password", "passwd", "passphrase"})
#: Two-word compounds ending in "key" that name a credential ("api_key", "private-key").
_KEY_PREFIXES = frozenset({"api", "private", "secret", "access", "signing", "encryption", "auth"})
#: Whole keys (normalised: lower case, no separators) that are credentials.
_WHOLE_KEYS = frozenset({"setcookie", "xapikey", "bearer", "privatekey", "apikey"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(key)]


@lru_cache(maxsize=4096)  # a log redacts the same few keys on every record
def is_secret_key(key: str) -> bool:
    """Whether a mapping key, header name or form field names a credential."""
    words = _words(key)
    if not words:
        return False
    if "".join(words) in _WHOLE_KEYS or words[-1] in _LAST_WORDS:
        return True
    if any(w in _ANY_WORDS for w in words):
        return True
    return len(words) >= 2 and words[-1] == "key" and words[-2] in _KEY_PREFIXES


def _has_value(value: Any) -> bool:
    return value is not None and value != "" and value != REDACTED


def redact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` with every credential's value replaced by ``"[redacted]"``, and the
    credentials inside its other strings (``"Bearer ..."``, ``"?token=..."``) redacted."""
    out: dict[str, Any] = {}
    name = mapping.get("name")
    pair = isinstance(name, str) and "value" in mapping and is_secret_key(name)
    for key, value in mapping.items():
        if (is_secret_key(str(key)) or (pair and key == "value")) and _has_value(value):
            out[key] = REDACTED
        else:
            out[key] = _redact_value(value)
    return out


#: Values with nothing to redact in them, told by their exact type before any isinstance check
#: (a Mapping check goes through the ABC machinery, and a log walks every number it records).
_PLAIN_TYPES = frozenset({int, float, bool, type(None)})


def _redact_value(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return _redact_string(value)
    if kind is dict:
        return redact(value)
    if kind is list:
        return [_redact_value(v) for v in value]
    if kind in _PLAIN_TYPES:
        return value
    if isinstance(value, str):
        return _redact_string(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact_value(v) for v in value)
    return value


# --------------------------------------------------------------------------- finding secrets

_PAIR_KEYS = (
    r"password|passwd|pwd|passphrase|secret|client_secret|api_key|apikey|api-key|access_token|"
    r"refresh_token|id_token|auth_token|token|private_key|secret_key"
)
#: Group 1 of each is what stays when the secret is redacted (the key, the scheme).
_PEM = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----(?!\s*\[redacted\])")
_PEM_BLOCK = re.compile(
    r"(-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----).*?(?:-----END \2-----|\Z)", re.DOTALL
)
_BEARER = re.compile(
    r"\b(Bearer\s+)(?!(?:realm|error|scope|error_description)\b)[A-Za-z0-9\-._~+/]{8,}=*",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PAIR = re.compile(
    r"""((?<![A-Za-z0-9_])(?:""" + _PAIR_KEYS + r""")["']?[ \t]*[:=][ \t]*["']?)"""
    # Not a value that says there is none: empty, null, already redacted, masked with stars.
    r"""(?!\[redacted\]|null\b|None\b|["'\s,;&}]|\*+(?:["'\s,;&}]|$)|$)"""
    r"""[^\s"'&,;}]+""",
    re.IGNORECASE | re.MULTILINE,
)
#: The header names :data:`_HEADER` takes (each may follow ``proxy-``).
_HEADER_NAMES = ("authorization", "cookie", "set-cookie", "x-api-key")
_HEADER = re.compile(
    r"^((?:proxy-)?(?:" + "|".join(_HEADER_NAMES) + r")[ \t]*:[ \t]*)"
    r"(?!\[redacted\])[^\s][^\r\n]*",
    re.IGNORECASE | re.MULTILINE,
)
_BASIC = re.compile(r"\b(Basic\s+)([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])", re.IGNORECASE)
#: (kind, pattern, words one of which a text must hold, in lower case, for the pattern to match):
#: a substring test is far cheaper than a regular expression over a whole evidence log.
_PATTERNS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("PEM private key block", _PEM, ("private key",)),
    ("Bearer token", _BEARER, ("bearer",)),
    ("JWT", _JWT, ("eyj",)),
    ("credential pair", _PAIR, ("pass", "pwd", "secret", "token", "api", "private_key")),
    ("HTTP credential header", _HEADER, ("authorization", "cookie", "x-api-key")),
)


def _is_basic_credential(token: str) -> bool:
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return ":" in text and text.isprintable()


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def _offsets(keys: Iterable[str], words: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """Where each word lies in the keys a pattern's match starts with: a match starting at ``s``
    holds ``word`` at ``s + offset`` for some word and one of its offsets. Every key must hold a
    word (checked here, at import)."""
    table: dict[str, set[int]] = {}
    for key in keys:
        held = False
        for word in words:
            at = key.find(word)
            while at >= 0:
                table.setdefault(word, set()).add(at)
                held = True
                at = key.find(word, at + 1)
        if not held:
            raise AssertionError(f"the key {key!r} holds none of the words {tuple(words)}")
    return {word: tuple(sorted(offsets)) for word, offsets in table.items()}


#: Patterns whose every match starts at a known offset before one of their words (in any case),
#: as {word: offsets}: each of these patterns starts its match with one of a few keys (a _PAIR
#: key, an optional ``proxy-`` and a header name, ``Bearer``, ``Basic``, ``eyJ``), and each key
#: holds one of the words; zero-width assertions before the key (lookbehind, ``\b``, ``^``) do
#: not move the match's start. Scanning a big file, such a pattern is tried only at those
#: offsets before each word's occurrences, in order, skipping those inside the last match: that
#: finds exactly what ``finditer`` finds (every match start is among the positions tried), in a
#: fraction of the time (a bundle scans tens of megabytes, and "token" or "api" occur thousands
#: of times in a server-topology run's evidence).
_NEAR: dict[re.Pattern[str], dict[str, tuple[int, ...]]] = {
    # "api" and "private" also stand for "x-api-key" and "private_key": one scan fewer each.
    _PAIR: _offsets(_PAIR_KEYS.split("|"), ("pass", "pwd", "secret", "token", "api", "private")),
    _HEADER: _offsets(
        [prefix + name for prefix in ("", "proxy-") for name in _HEADER_NAMES],
        ("authorization", "cookie", "api"),
    ),
    _BEARER: {"bearer": (0,)},
    _BASIC: {"basic": (0,)},
    _JWT: {"eyj": (0,)},
}


#: A text is lowered this many characters at a time, each piece overlapping the next by
#: :data:`_OVERLAP` (longer than any word looked for): a bundle scans files of tens of megabytes,
#: and a lowered copy of a whole one was the bundle's peak memory.
_PIECE = 1 << 18
_OVERLAP = 64


def _lowered(text: str) -> Iterator[tuple[int, str]]:
    """(offset in ``text``, the lowered piece of ``text`` that starts there)."""
    for start in range(0, max(len(text), 1), _PIECE):
        yield start, text[start : start + _PIECE + _OVERLAP].lower()


def _lowered_bytes(text: str) -> Iterator[tuple[int, bytes]]:
    """The same for a text whose every character is below 256 (a binary file read as Latin-1),
    one byte a character: ``bytes.lower()`` is many times faster than ``str.lower()`` on such a
    text, and lowers only ASCII letters, as ``str.lower()`` does there (no character from 128 to
    255 lowers to ASCII). Raises UnicodeEncodeError at the first piece holding any other
    character."""
    for start in range(0, max(len(text), 1), _PIECE):
        yield start, text[start : start + _PIECE + _OVERLAP].encode("latin-1").lower()


#: The characters outside ASCII that ``lower()`` makes two characters of (U+0130, capital I with
#: dot) or that the regular expression engine matches to an ASCII letter case-insensitively
#: (U+0131 dotless i, U+017F long s, U+212A Kelvin sign): in a text holding none of them,
#: ``lower()`` keeps every position, and a word (ASCII letters, ``_``, ``-``, space) is in the
#: lowered text exactly where ``re.IGNORECASE`` finds it in the text (a test checks this over
#: every code point).
_FOLDING = "\u0130\u0131\u017f\u212a"


@lru_cache(maxsize=64)
def _scan_order(words: tuple[str, ...]) -> tuple[tuple[str, bytes, tuple[str, ...]], ...]:
    """(word, as bytes, the shorter words it holds), shortest first: a word holding one that is
    not in a piece is not in it either, and costs no scan of its own ("private key")."""
    ordered = sorted(dict.fromkeys(words), key=len)
    return tuple(
        (word, word.encode("ascii"), tuple(u for u in ordered if u != word and u in word))
        for word in ordered
    )


def _find_all(
    pieces: Iterable[tuple[int, str]] | Iterable[tuple[int, bytes]],
    words: tuple[str, ...],
    hits: dict[str, list[int]],
) -> None:
    order = _scan_order(words)
    for offset, lower in pieces:
        absent: set[str] = set()
        for word, word_bytes, holds in order:
            if any(u in absent for u in holds):
                absent.add(word)
                continue
            needle: Any = word if isinstance(lower, str) else word_bytes
            at = lower.find(needle)
            if at < 0:
                absent.add(word)
            # A word starting in the overlap is found again at the start of the next piece.
            if 0 <= at < _PIECE:
                found = hits.setdefault(word, [])
                while 0 <= at < _PIECE:
                    found.append(offset + at)
                    at = lower.find(needle, at + 1)


def _word_starts(text: str, words: tuple[str, ...]) -> dict[str, list[int]]:
    """Where each of ``words`` (lower case, ASCII) starts in ``text``, in any case (overlaps
    included), in order; a word absent has no entry."""
    hits: dict[str, list[int]] = {}
    if text.isascii():
        _find_all(_lowered(text), words, hits)
        return hits
    if not any(char in text for char in _FOLDING):
        try:
            _find_all(_lowered_bytes(text), words, hits)
        except UnicodeEncodeError:  # a character from 256 up, in this piece or a later one
            hits.clear()
            _find_all(_lowered(text), words, hits)
        return hits
    # Other text may change length in lower() or case-fold into these words ("paſs"): the
    # regular expression engine's own case-insensitive search, one word at a time.
    for word in words:
        starts = [hit.start() for hit in re.finditer(f"(?={re.escape(word)})", text, re.I)]
        if starts:
            hits[word] = starts
    return hits


#: Every word :func:`find_secrets` looks for, once per text: those of the patterns tried near
#: their words, and those a text must hold for the others to be tried at all.
_WORDS = tuple(
    dict.fromkeys(
        [word for near in _NEAR.values() for word in near]
        + [word for _kind, pattern, words in _PATTERNS if pattern not in _NEAR for word in words]
    )
)
assert all(len(word) <= _OVERLAP for word in _WORDS)


def _matches(
    pattern: re.Pattern[str], text: str, hits: Mapping[str, list[int]] | None = None
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``: the same matches (non-overlapping, left to right). ``hits``:
    what :func:`_word_starts` found in ``text`` for at least the pattern's words."""
    near = _NEAR.get(pattern)
    if near is None:
        yield from pattern.finditer(text)
        return
    if hits is None:
        hits = _word_starts(text, tuple(near))
    starts = {
        hit - offset
        for word, offsets in near.items()
        for hit in hits.get(word, ())
        for offset in offsets
        if hit >= offset
    }
    end = 0
    for start in sorted(starts):
        if start < end:
            continue
        # match() at a position still sees the text before it (lookbehind, \b, ^).
        found = pattern.match(text, start)
        if found is not None:
            yield found
            end = found.end()


def find_secrets(text: str) -> list[str]:
    """Where ``text`` holds something that looks like a credential: ``"Bearer token at line 3
    column 17"``, in order of position. The secret itself is never quoted."""
    found: list[tuple[int, str]] = []
    hits = _word_starts(text, _WORDS)
    if not hits:
        return []
    for kind, pattern, words in _PATTERNS:
        if pattern in _NEAR or any(word in hits for word in words):
            found.extend((m.start(), kind) for m in _matches(pattern, text, hits))
    found.extend(
        (m.start(), "HTTP Basic credentials")
        for m in _matches(_BASIC, text, hits)
        if _is_basic_credential(m.group(2))
    )
    found.sort()
    return [f"{kind} at {_where(text, offset)}" for offset, kind in found]


# --------------------------------------------------------------------------- redacting text


#: Words one of which a string must hold (in lower case) to hold a credential at all.
_TRIGGERS = frozenset({word for _kind, _pattern, words in _PATTERNS for word in words} | {"basic"})


#: The same, as one pattern: a single scan per string (a log redacts every string it records).
_TRIGGER = re.compile("|".join(re.escape(word) for word in sorted(_TRIGGERS)), re.IGNORECASE)


#: Strings up to this long are redacted through a cache: a log records the same few hundred
#: names, units and types tens of thousands of times, and one regular-expression scan costs
#: more than the rest of the walk.
_CACHED_LENGTH = 128


def _redact_string(text: str) -> str:
    if len(text) <= _CACHED_LENGTH:
        return _redact_short(text)
    return redact_text(text) if _TRIGGER.search(text) else text


@lru_cache(maxsize=8192)
def _redact_short(text: str) -> str:
    return redact_text(text) if _TRIGGER.search(text) else text


def redact_text(text: str) -> str:
    """``text`` with every credential :func:`find_secrets` would report replaced by
    ``[redacted]`` (the key or scheme is kept: ``password=[redacted]``, ``Bearer [redacted]``)."""
    text = _PEM_BLOCK.sub(lambda m: f"{m.group(1)}\n{REDACTED}\n-----END {m.group(2)}-----", text)
    text = _HEADER.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _BASIC.sub(
        lambda m: m.group(1) + REDACTED if _is_basic_credential(m.group(2)) else m.group(0), text
    )
    text = _JWT.sub(REDACTED, text)
    return _PAIR.sub(rf"\1{REDACTED}", text)


def redact_query(query: str) -> str:
    """A URL query string (``a=1&token=x``) with credential parameters redacted."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, REDACTED if is_secret_key(k) and _has_value(v) else v) for k, v in pairs],
        safe="[]",
    )


def redact_body(text: str, content_type: str = "") -> str:
    """A message body with its credentials redacted: JSON and form bodies field by field, any
    other text by :func:`redact_text`."""
    stripped = text.strip()
    if "json" in content_type or stripped[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            redacted = _redact_value(document)
            return text if redacted == document else json.dumps(redacted, ensure_ascii=False)
    if "x-www-form-urlencoded" in content_type:
        return redact_query(text)
    return redact_text(text)


def redact_http_message(data: bytes) -> bytes:
    """A raw HTTP/1.x request or response with its credentials redacted: the values of
    credential headers (``Authorization``, ``Cookie``, ``X-Api-Key`` ...), credential query
    parameters of the request target, and credentials in a JSON, form or text body.

    For whoever records HTTP exchanges as evidence: redact *before* ``EvidenceLog.add``, since
    the evidence is hash-chained and cannot be changed afterwards.
    """
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = data.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    if not lines:
        return data
    start = lines[0]
    parts = start.split(" ")
    if len(parts) == 3 and not start.startswith("HTTP/") and "?" in parts[1]:
        path, _, query = parts[1].partition("?")
        start = f"{parts[0]} {path}?{redact_query(query)} {parts[2]}"
    content_type = ""
    out = [start]
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and is_secret_key(name.strip()) and value.strip():
            line = f"{name}: {REDACTED}"
        elif colon and name.strip().lower() == "content-type":
            content_type = value.strip().lower()
        out.append(line)
    newline = "\r\n" if b"\r\n" in head or separator == b"\r\n\r\n" else "\n"
    new_head = newline.join(out).encode("latin-1")
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # a binary body is left as it is
        else:
            body = redact_body(text, content_type).encode("utf-8")
            if body != data.partition(separator)[2]:
                new_head = re.sub(
                    rb"(?im)^(content-length[ \t]*:[ \t]*)\d+",
                    rb"\g<1>" + str(len(body)).encode(),
                    new_head,
                )
    return new_head + separator + body
