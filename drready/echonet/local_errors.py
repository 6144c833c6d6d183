"""The errors drready raises on its own side of ECHONET Lite: bytes that do not decode, values
that do not encode, a peer that does not answer.

Everything derives from :class:`EchonetError` so a caller can catch the whole family at once,
while the secondary bases (``ValueError``, ``TimeoutError``) keep ordinary Python idioms working
for code that does not know about drready. This module imports nothing of drready, so the codec
can raise these errors; callers import them from :mod:`drready.echonet.errors`. A wire failure
also carries :class:`drready.errors.ExchangeError`, which makes a test inconclusive.
"""

from __future__ import annotations

from drready.errors import ExchangeError

__all__ = ["DecodeError", "EchonetError", "EchonetTimeout", "EncodeError"]


class EchonetError(Exception):
    """Base of every ECHONET Lite error raised by drready."""


class DecodeError(EchonetError, ExchangeError, ValueError):
    """Bytes that are not a valid ECHONET Lite frame or property value (local)."""


class EncodeError(EchonetError, ValueError):
    """A value that cannot be encoded."""


class EchonetTimeout(EchonetError, ExchangeError, TimeoutError):
    """No response within the bounded retries."""

    def __init__(
        self, tid: int | None, attempts: int, timeout_s: float, peer: str = "", request: str = ""
    ) -> None:
        self.tid = tid
        self.attempts = attempts
        self.timeout_s = timeout_s
        self.peer = peer
        self.request = request
        tid_text = "no TID" if tid is None else f"TID 0x{tid:04X}"
        where = f" from {peer}" if peer else ""
        asked = f" to {request}" if request else ""
        super().__init__(
            f"no response{where} for {tid_text}{asked} after {attempts} attempt(s) "
            f"(timeout {timeout_s:g} s)"
        )

    def __reduce__(self) -> tuple[type[EchonetTimeout], tuple[int | None, int, float, str, str]]:
        # The default Exception pickling replays ``self.args`` (the message) into
        # __init__, which has a different signature; replay the real arguments.
        return (type(self), (self.tid, self.attempts, self.timeout_s, self.peer, self.request))
