"""Link impairment: what the harness does to its own transports to show a lossy link does not
change a verdict.

An :class:`Impairment` is the settings value: rates of loss, duplication, reordering and
ECHONET Lite TID corruption, a delay with jitter, a flood of unsolicited INF frames, and the
seed that makes every decision reproducible. It comes from the profile's ``[impair]`` table or
from ``drready run --impair loss=0.05,duplicate=0.01,seed=7`` (:func:`parse_impairment`; the
command line wins). Each link of a run (the ECHONET Lite gateway's socket, a Modbus client, the
OpenADR 3 servicer, the Web API client) draws its decisions from its own
:class:`LinkImpairment`, seeded from the seed and the link's name, so one link's traffic never
shifts another's dice, and a run on virtual time is the same run every time.

What each impairment means on each binding is said where it is applied:
:mod:`drready.echonet.impair` (datagrams, both directions), :mod:`drready.modbus.client`
(requests), :mod:`drready.openadr.server.servicer` and :mod:`drready.webapi.client` (HTTP
exchanges). Every action is an evidence record of kind ``impair`` (:data:`EVIDENCE_KIND`) on the
link's channel, so a report reader sees what was injected, and where.

The harness's own retry budget is part of the experiment: with ``adapt_retries`` (the default),
a link retries often enough that a request exhausts its attempts less than once in
:data:`TARGET_FAILURE` under the injected loss (:meth:`Impairment.attempts`); without it, the
profile's retries stand and failed requests reach the suites, which must treat them as gaps.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from typing import Any, Final

from drready.errors import UsageError

__all__ = [
    "EVIDENCE_KIND",
    "MAX_ATTEMPTS",
    "RATES",
    "RX",
    "TARGET_FAILURE",
    "TX",
    "Impairment",
    "ImpairmentError",
    "LinkImpairment",
    "attempts_under",
    "link_impairment",
    "parse_impairment",
]

#: The evidence kind of every impairment action (beside "tx", "rx", "measurement", "note").
EVIDENCE_KIND: Final = "impair"
#: With ``adapt_retries``, a request may exhaust its attempts at most this often.
TARGET_FAILURE: Final = 1e-6
#: The most attempts an adapted retry budget gives one request.
MAX_ATTEMPTS: Final = 10
#: The fields that are probabilities (0 to 1) of one message being affected.
RATES: Final = ("loss", "duplicate", "reorder", "tid_corrupt")
_NON_NEGATIVE: Final = ("delay_ms", "jitter_ms", "inf_flood_per_s")
#: Upper bounds of the others (the profile schema's too): a minute of delay, 1000 INF a second.
_MAXIMA: Final = {"delay_ms": 60000.0, "jitter_ms": 60000.0, "inf_flood_per_s": 1000.0}
#: How far past its own delay a reordered message is held, at least (seconds): long enough for
#: the next message of a request/reply exchange to overtake it on a quiet link.
REORDER_HOLD_S: Final = 0.05
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


class ImpairmentError(UsageError):
    """An impairment setting that cannot be used: ``field``, what was ``expected``, what was
    ``got``. Said as ``--impair`` on the command line and as ``impair.FIELD`` in a profile."""

    def __init__(self, field: str, expected: str, got: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        text = f"{field}: expected {expected}" if field else f"expected {expected}"
        super().__init__(text + (f", got {got}" if got is not None else ""))


@dataclass(frozen=True)
class Impairment:
    """Rates and delays the harness applies to its own links.

    ``loss``, ``duplicate``, ``reorder``, ``tid_corrupt``: the probability that one message, in
    either direction, is dropped, delivered twice, held back so later ones overtake it, or (ECHONET
    Lite) has its TID changed. ``delay_ms`` with ``jitter_ms``: every message is held for the
    delay plus a uniform draw in ±jitter (never below zero). ``inf_flood_per_s``: unsolicited INF
    frames from another node toward the gateway, on average this many a second (ECHONET Lite).
    ``seed``: the seed of every link's dice. ``adapt_retries``: size the harness's retries to the
    loss (see the module docs).
    """

    loss: float = 0.0
    duplicate: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder: float = 0.0
    tid_corrupt: float = 0.0
    inf_flood_per_s: float = 0.0
    seed: int = 0
    adapt_retries: bool = True

    def __post_init__(self) -> None:
        for name in (*RATES, *_NON_NEGATIVE):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ImpairmentError(name, _expected(name), repr(value))
            value = float(value)
            if not math.isfinite(value) or value < 0 or value > _MAXIMA.get(name, 1.0):
                raise ImpairmentError(name, _expected(name), _number(value))
            object.__setattr__(self, name, value)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ImpairmentError("seed", _expected("seed"), repr(self.seed))
        if not isinstance(self.adapt_retries, bool):
            raise ImpairmentError(
                "adapt_retries", _expected("adapt_retries"), repr(self.adapt_retries)
            )

    @property
    def active(self) -> bool:
        """Whether anything at all is done to the links."""
        return any(getattr(self, name) for name in (*RATES, *_NON_NEGATIVE))

    def link(self, name: str) -> LinkImpairment:
        """The dice of one link (``"echonet"``, ``"modbus/device"``, ...)."""
        return LinkImpairment(self, name)

    def attempt_failure(self) -> float:
        """The chance one attempt of a request/reply exchange gets no usable reply: the request
        or the reply lost, or (ECHONET Lite) either one's TID corrupted."""
        one_way = (1.0 - self.loss) * (1.0 - self.tid_corrupt)
        return 1.0 - one_way * one_way

    def attempts(self, configured: int) -> int:
        """How many attempts a request gets on an impaired link, the configured ones at least:
        with ``adapt_retries``, enough that all of them fail less than once in
        :data:`TARGET_FAILURE` (at most :data:`MAX_ATTEMPTS`)."""
        failure = self.attempt_failure()
        if not self.adapt_retries or failure <= 0:
            return configured
        if failure >= 1:
            return max(configured, MAX_ATTEMPTS)
        needed = math.ceil(math.log(TARGET_FAILURE) / math.log(failure))
        return max(configured, min(needed, MAX_ATTEMPTS))

    def describe(self) -> str:
        """One line: what is set, in the words of the settings (``loss 5%, seed 7``)."""
        parts: list[str] = []
        for name in RATES:
            value = getattr(self, name)
            if value:
                parts.append(f"{name.replace('_', ' ')} {value * 100:g}%")
        if self.delay_ms or self.jitter_ms:
            parts.append(f"delay {self.delay_ms:g} ms ± {self.jitter_ms:g} ms")
        if self.inf_flood_per_s:
            parts.append(f"INF flood {self.inf_flood_per_s:g}/s")
        parts.append(f"seed {self.seed}")
        if not self.adapt_retries:
            parts.append("retries as configured")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Every field: the profile's ``[impair]`` table with the defaults filled in."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_cli(self) -> str:
        """The ``--impair`` text that gives this value back (fields that differ from the
        defaults; ``seed`` always)."""
        default = Impairment()
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "seed" or value != getattr(default, f.name):
                parts.append(f"{f.name}={_cli_value(value)}")
        return ",".join(parts)


def _number(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def _cli_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _expected(name: str) -> str:
    if name in RATES:
        return "a number from 0 to 1 (a probability)"
    if name in _NON_NEGATIVE:
        return f"a number from 0 to {_MAXIMA[name]:g}"
    if name == "seed":
        return "an integer"
    if name == "adapt_retries":
        return "true or false"
    return "one of " + ", ".join(f.name for f in fields(Impairment))


def parse_impairment(text: str) -> Impairment | None:
    """``--impair``: comma-separated ``field=value`` pairs (``loss=0.05,duplicate=0.01,seed=7``),
    or ``none`` (no impairment, whatever the profile says). Raises :class:`ImpairmentError`
    naming the field and the value it expects."""
    text = text.strip()
    if text.lower() in ("none", "off"):
        return None
    names = [f.name for f in fields(Impairment)]
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, raw = (piece.strip() for piece in item.partition("="))
        if not equals or not name:
            raise ImpairmentError("", "field=value pairs separated by commas, or none", repr(item))
        if name not in names:
            raise ImpairmentError(
                name, "a field: one of " + ", ".join(names), f"unknown field {name!r}"
            )
        if name in values:
            raise ImpairmentError(name, "each field once", "it twice")
        values[name] = _parse_value(name, raw)
    if not values:
        raise ImpairmentError("", "field=value pairs separated by commas, or none", repr(text))
    return Impairment(**values)


def _parse_value(name: str, raw: str) -> Any:
    if name == "adapt_retries":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ImpairmentError(name, _expected(name), repr(raw))
    try:
        return int(raw, 0) if name == "seed" else float(raw)
    except ValueError:
        raise ImpairmentError(name, _expected(name), repr(raw)) from None


def attempts_under(impairment: Impairment | None, configured: int) -> int:
    """The attempts a request gets: the configured ones, or more on an impaired link."""
    if impairment is None or not impairment.active:
        return configured
    return impairment.attempts(configured)


def link_impairment(impairment: Impairment | None, name: str) -> LinkImpairment | None:
    """The dice of the link ``name``, or None when nothing is impaired."""
    if impairment is None or not impairment.active:
        return None
    return impairment.link(name)


#: Directions of a link: from the harness, and to it.
TX: Final = "tx"
RX: Final = "rx"


class LinkImpairment:
    """The dice of one link: each question draws from the link's own stream, seeded from the
    impairment's seed and the link's name (a string seed: the same on every platform and run).

    Separate streams per direction, so how many datagrams went one way never shifts what
    happens to those going the other way.
    """

    def __init__(self, impairment: Impairment, name: str) -> None:
        self.impairment = impairment
        self.name = name
        self._streams: dict[str, random.Random] = {}

    def _stream(self, direction: str) -> random.Random:
        stream = self._streams.get(direction)
        if stream is None:
            stream = random.Random(f"drready-impair/{self.impairment.seed}/{self.name}/{direction}")
            self._streams[direction] = stream
        return stream

    def _chance(self, rate: float, direction: str) -> bool:
        # Each question has its own stream: turning one impairment on leaves the others' draws
        # as they were, so a seed keeps meaning the same losses when a delay is added.
        return rate > 0 and self._stream(direction).random() < rate

    def lost(self, direction: str) -> bool:
        return self._chance(self.impairment.loss, f"{direction}/loss")

    def duplicated(self, direction: str) -> bool:
        return self._chance(self.impairment.duplicate, f"{direction}/duplicate")

    def reordered(self, direction: str) -> bool:
        return self._chance(self.impairment.reorder, f"{direction}/reorder")

    def corrupted(self, direction: str) -> bool:
        return self._chance(self.impairment.tid_corrupt, f"{direction}/tid")

    def delay_s(self, direction: str) -> float:
        """The delay of one message: the set delay, ± a uniform jitter, never below zero."""
        delay_ms, jitter_ms = self.impairment.delay_ms, self.impairment.jitter_ms
        if jitter_ms:
            delay_ms += self._stream(f"{direction}/jitter").uniform(-jitter_ms, jitter_ms)
        return max(0.0, delay_ms) / 1000.0

    def reorder_hold_s(self) -> float:
        """How much longer than its delay a reordered message is held."""
        return max(REORDER_HOLD_S, 2 * self.impairment.jitter_ms / 1000.0)

    def new_tid(self, tid: int, direction: str) -> int:
        """A TID that differs from ``tid`` (16 bits, never 0)."""
        stream = self._stream(f"{direction}/tid-value")
        while True:
            other = tid ^ stream.randrange(1, 0x10000)
            if other:
                return other

    def flood_interval_s(self) -> float:
        """Seconds to the next flooded frame: a Poisson process at ``inf_flood_per_s``."""
        return self._stream("flood").expovariate(self.impairment.inf_flood_per_s)

    def pick(self, direction: str, count: int) -> int:
        """A number in ``range(count)`` from the link's stream (which flooded frame to send)."""
        return self._stream(f"{direction}/pick").randrange(count)
