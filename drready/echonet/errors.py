"""Exception hierarchy shared by every part of the ECHONET Lite stack.

Everything derives from :class:`EchonetError` so a caller can catch the whole
family at once, while the secondary bases (``ValueError``, ``TimeoutError``)
keep ordinary Python idioms working for code that does not know about drready.

The errors raised locally (:class:`DecodeError`, :class:`EncodeError`,
:class:`EchonetTimeout`) live in :mod:`drready.echonet.local_errors`, which the
codec imports; this module adds the peer's refusals (:class:`RemoteError`),
which need the codec's frames, and is where callers import every one of them.
"""

from __future__ import annotations

from drready.echonet.codec import ESV, Frame
from drready.echonet.local_errors import DecodeError, EchonetError, EchonetTimeout, EncodeError

__all__ = [
    "DecodeError",
    "EchonetError",
    "EchonetTimeout",
    "EncodeError",
    "RemoteError",
    "refused_epcs",
]


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
