"""Canonical JSON and the one digest: what the evidence chain, the run document, the bundle's
manifest and the declaration all hash with, so that a value digested in one place checks in
another.

Canonical JSON here is UTF-8 text with sorted keys, no insignificant white space and non-ASCII
characters as themselves (``json.dumps(..., ensure_ascii=False, sort_keys=True,
separators=(",", ":"))``). The digest is SHA-256 (FIPS 180-4), written as 64 lower-case hex
digits.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "digest", "sha256_hex"]


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_hex(data: bytes | str) -> str:
    """SHA-256 of ``data`` (text is hashed as UTF-8), as 64 lower-case hex digits."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON."""
    return sha256_hex(canonical_json(value))
