"""Exception hierarchy shared by every part of the ECHONET Lite stack.

Everything derives from :class:`EchonetError` so a caller can catch the whole
family at once, while the secondary bases (``ValueError``, ``TimeoutError``)
keep ordinary Python idioms working for code that does not know about drready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from drready.echonet.codec import Frame

__all__ = [
    "DecodeError",
    "EchonetError",
    "EchonetTimeout",
    "EncodeError",
    "RemoteError",
    "refused_epcs",
]


class EchonetError(Exception):
    """Base of every ECHONET Lite error raised by drready."""


class DecodeError(EchonetError, ValueError):
    """Bytes that are not a valid ECHONET Lite frame or property value (local)."""


class EncodeError(EchonetError, ValueError):
    """A value that cannot be encoded."""


class EchonetTimeout(EchonetError, TimeoutError):
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


def refused_epcs(frame: Frame) -> tuple[int, ...]:
    """EPCs the peer refused in an ``*_SNA`` response, in frame order.

    The meaning of PDC is inverted between the write and read families
    (ECHONET Lite Specification Part 2 §3.2.5 and chapter 4 service details):

    * SetI_SNA / SetC_SNA and the Set block of SetGet_SNA: accepted properties come
      back with PDC = 0, refused ones echo the requested EDT (PDC != 0).
    * Get_SNA / INF_SNA and the Get block of SetGet_SNA: properties that could be
      read carry their value, refused ones come back with PDC = 0.

    Returns ``()`` for frames that are not SNA responses.
    """
    # Imported lazily: codec imports this module at load time.
    from drready.echonet.codec import ESV

    esv = frame.esv
    if esv in (ESV.SETI_SNA, ESV.SETC_SNA):
        return tuple(p.epc for p in frame.properties if p.pdc != 0)
    if esv in (ESV.GET_SNA, ESV.INF_SNA):
        return tuple(p.epc for p in frame.properties if p.pdc == 0)
    if esv is ESV.SETGET_SNA:
        refused_set = [p.epc for p in frame.properties if p.pdc != 0]
        refused_get = [p.epc for p in frame.get_properties if p.pdc == 0]
        return (*refused_set, *refused_get)
    return ()


class RemoteError(EchonetError):
    """The peer answered with an *_SNA response (remote error)."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.esv = frame.esv
        self.refused_epcs = refused_epcs(frame)
        if self.refused_epcs:
            refused = ", ".join(f"0x{epc:02X}" for epc in self.refused_epcs)
        else:
            refused = "none identified"
        super().__init__(
            f"{frame.esv.name} (0x{int(frame.esv):02X}) from {frame.seoj} "
            f"for TID 0x{frame.tid:04X}: refused EPC(s) {refused}"
        )

    def __reduce__(self) -> tuple[type[RemoteError], tuple[Frame]]:
        # See EchonetTimeout.__reduce__: rebuild from the frame, not the message.
        return (type(self), (self.frame,))
