"""find_secrets tries its costly patterns only next to their words (a bundle scans tens of
megabytes): it must find exactly what a scan of the whole text finds."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

import pytest

from drready.evidence.redact import _BASIC, _PATTERNS, _PIECE, _matches, find_secrets

PIECES = [
    *"abcdeiknoprstwyABP_-=:'\" \n;&,}{[]",
    "token",
    "secret",
    "bearer ",
    "Basic ",
    "pass",
    "api",
    "private_key",
    "refresh_",
    "client_",
    "dXNlcjpwYXNz",
    "\u017f",  # long s: case-folds to "s"
    "\u0130",  # capital I with dot: lower() makes two characters of it
    "\u212a",  # Kelvin sign: case-folds to "k"
    "é",
]
CASES = [
    "password=abc",
    "_password=abc",
    "client_secret: 'x'",
    "refresh_token=zz&id_token=y",
    "Authorization: Bearer abcdefghijk",
    "xbearer abcdefghijkl",
    "Basic dXNlcjpwYXNz",
    "api_key=1 apikey=2 api-key=3 Secret_Key=4",
    "secretoken=1 token=tokentoken=3",
    "token=[redacted] token=null token= token=***",
    "pa\u017fsword=x \u0130\u0130 password=y",
    "a\nBearer\n xyzxyzxyz",
]


def _spans(found: Iterable[re.Match[str]]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in found]


def _texts() -> list[str]:
    rng = random.Random(13)
    made = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    return CASES + made


@pytest.mark.parametrize("pattern", [p for _kind, p, _words in _PATTERNS] + [_BASIC])
def test_the_scan_near_words_finds_what_a_whole_scan_finds(pattern: re.Pattern[str]) -> None:
    for text in _texts():
        assert _spans(_matches(pattern, text)) == _spans(pattern.finditer(text)), text


def test_it_still_finds_credentials() -> None:
    found = find_secrets('{"client_secret": "abc123"}\nAuthorization: Bearer abcdefghijkl')
    assert found == [
        "credential pair at line 1 column 3",
        "HTTP credential header at line 2 column 1",
        "Bearer token at line 2 column 16",
    ]


@pytest.mark.parametrize("filler", ["x", "\u00e9"])
@pytest.mark.parametrize("back", [1, 3, 6, 40])
def test_a_credential_across_the_pieces_a_big_text_is_lowered_in_is_found(
    filler: str, back: int
) -> None:
    text = filler * (_PIECE - back) + ' Authorization: Bearer abcdefghijkl "PASSWORD": "hunter2"'
    assert [hit.split(" at ")[0] for hit in find_secrets(text)] == [
        "Bearer token",
        "credential pair",
    ]
