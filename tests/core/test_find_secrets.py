"""find_secrets tries its costly patterns only next to their words (a bundle scans tens of
megabytes): it must find exactly what a scan of the whole text finds."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

import pytest

from drready.evidence.redact import (
    _BASIC,
    _FOLDING,
    _NEAR,
    _PATTERNS,
    _PIECE,
    _WORDS,
    _is_basic_credential,
    _matches,
    _offsets,
    _where,
    find_secrets,
)

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
    "\u0131",  # dotless i: case-folds to "i"
    "é",
    "\xff",
    "日",
    "\n",
    "\r\n",
    "Authorization",
    "proxy-",
    "set-",
    "cookie",
    "x-api-key",
    "X-API",
    "-key",
    "_key",
    "id_",
    "auth_",
    "access_",
    "eyJ",
    "eyJhbGci",
    ".",
    "-----BEGIN ",
    "RSA ",
    "PRIVATE KEY-----",
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
    "Cookie: a=b\nproxy-authorization: x\nSet-Cookie: c\nx: y\n Cookie: z",
    "PROXY-SET-COOKIE: q\nX-Api-Key: k",
    "Proxy-X-Api-Key: k\nproxy-cookie: c\nPROXY-AUTHORIZATION: z\nx-api-key:\t[redacted]",
    "eyJhbGciOi.eyJzdWIiOi.sig xeyJabcd.eyJabcd.x",
    "-----BEGIN RSA PRIVATE KEY-----\nabc",
    "ACCESS_TOKEN=1 Refresh_Token=2 id_token=3 auth_token=4 xtoken=5 _token=6",
    "pa\u017f\u017fword=x to\u212aen=y \u0131d_token=z",
    "pa\u017f\u017fword=x",
    "\u017fecret: 'y'",
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


@pytest.mark.parametrize("filler", ["x", "\u00e9", "\xff", "日", "\u017f"])
@pytest.mark.parametrize("back", [1, 3, 6, 40])
def test_a_credential_across_the_pieces_a_big_text_is_lowered_in_is_found(
    filler: str, back: int
) -> None:
    text = filler * (_PIECE - back) + ' Authorization: Bearer abcdefghijkl "PASSWORD": "hunter2"'
    assert [hit.split(" at ")[0] for hit in find_secrets(text)] == [
        "Bearer token",
        "credential pair",
    ]


def _whole_scan(text: str) -> list[str]:
    """What find_secrets must report: every pattern run over the whole text."""
    found = [
        (m.start(), kind) for kind, pattern, _words in _PATTERNS for m in pattern.finditer(text)
    ]
    found += [
        (m.start(), "HTTP Basic credentials")
        for m in _BASIC.finditer(text)
        if _is_basic_credential(m.group(2))
    ]
    found.sort()
    return [f"{kind} at {_where(text, offset)}" for offset, kind in found]


def test_find_secrets_reports_what_a_whole_scan_of_every_pattern_finds() -> None:
    reported = 0
    for text in _texts():
        expected = _whole_scan(text)
        assert find_secrets(text) == expected, text
        reported += bool(expected)
    assert reported > 100  # the texts hold credentials, not only near misses


def test_a_credential_spelt_with_a_long_s_is_found() -> None:
    # "paſsword" is a password to the case-insensitive pattern (ſ folds to s), not to lower().
    assert find_secrets("pa\u017fsword=hunter22") == ["credential pair at line 1 column 1"]
    assert find_secrets("\xff\xfe Bearer abcdefghijkl") == ["Bearer token at line 1 column 4"]


def test_the_offsets_of_the_words_come_from_the_keys_and_every_key_must_hold_one() -> None:
    # token, id_token, auth_token, access_token, refresh_token
    assert _NEAR[_PATTERNS[3][1]]["token"] == (0, 3, 5, 7, 8)
    with pytest.raises(AssertionError, match="holds none of the words"):
        _offsets(["password", "credential"], ["pass"])


def test_lower_keeps_positions_and_matches_what_ignorecase_matches_outside_the_folding_ones() -> (
    None
):
    """The ground _FOLDING stands on, over every code point of this Python's Unicode database:
    outside ASCII, only the _FOLDING characters lower() lengthens, lowers to ASCII, or the
    regular expression engine matches to an ASCII character of a word."""
    others = "".join(
        chr(code)
        for code in range(0x80, 0x110000)
        if not 0xD800 <= code < 0xE000 and chr(code) not in _FOLDING
    )
    alphabet = sorted({char for word in _WORDS for char in word})
    assert all(char.isascii() for char in alphabet)
    for char in alphabet:
        assert re.search(re.escape(char), others, re.IGNORECASE) is None, char
    lowered = others.lower()
    assert len(lowered) == len(others)
    assert not any(char.isascii() for char in lowered)
    for char in _FOLDING:
        assert len(char.lower()) != 1 or any(
            re.fullmatch(re.escape(a), char, re.IGNORECASE) for a in alphabet
        )


@pytest.mark.parametrize(
    "filler",
    [
        "x",  # ASCII: str.lower()
        "\xff",  # below 256: bytes.lower()
        "日",  # from 256 up: str.lower()
        "\u017f",  # a folding character: the regular expression engine
    ],
)
def test_a_big_text_is_scanned_the_same_way_whatever_it_holds(filler: str) -> None:
    credential = "\nAuthorization: Bearer abcdefghijkl\n"
    text = (filler + credential) * 3 + "y" * (2 * _PIECE) + credential + filler
    assert find_secrets(text) == _whole_scan(text)
    assert len(find_secrets(text)) == 8


def test_a_character_from_256_up_after_the_first_piece_is_no_obstacle() -> None:
    # The first piece is Latin-1 (bytes.lower()), the second is not: the scan starts over.
    text = "\xff Bearer abcdefghijkl " + "y" * _PIECE + " 日 password=x"
    assert find_secrets(text) == _whole_scan(text)
    assert len(find_secrets(text)) == 2
