"""Operator steps: what a requirement needs a person (or a remote power switch) to do.

A step is a value (:class:`OperatorStep`) in :data:`OPERATOR_STEPS`, found by its id; the tests
that need one are marked ``@pytest.mark.operator_step("restart")``, so a plan can list them
before the run. Whoever carries a step out (a person at the terminal, a power switch the profile
declares, or nobody in CI) is an :class:`Operator`; its :class:`OperatorAnswer` goes into the
evidence as it is given. The terminal and the power switch live in :mod:`drready.run.operator`:
this module holds only the words every layer shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from drready.clock import real_now

__all__ = [
    "ANSWERS",
    "OPERATOR_STEPS",
    "NoOperator",
    "Operator",
    "OperatorAnswer",
    "OperatorStep",
]


@dataclass(frozen=True)
class OperatorStep:
    """One thing a person does to the device: ``instruction`` (English) and
    ``instruction_ja`` (Japanese) say what, ``confirm`` what they confirm by answering, and
    ``timeout_s`` how long the harness waits for them (real seconds)."""

    id: str
    instruction: str
    instruction_ja: str
    confirm: str
    timeout_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instruction": self.instruction,
            "instruction_ja": self.instruction_ja,
            "confirm": self.confirm,
            "timeout_s": self.timeout_s,
        }


#: Every step a suite may ask for, by id (the argument of ``@pytest.mark.operator_step``).
OPERATOR_STEPS: dict[str, OperatorStep] = {
    step.id: step
    for step in (
        OperatorStep(
            id="restart",
            instruction=(
                "Power-cycle the device: switch off its mains supply (or its power switch), wait "
                "10 seconds, switch it on again, and answer once it has finished starting up."
            ),
            instruction_ja=(
                "機器の電源を切り（主電源または電源スイッチ）、10秒待ってから再び入れ、"
                "起動が終わったら応答してください。"
            ),
            confirm="the device was switched off and on again and has started up",
            timeout_s=600.0,
        ),
    )
}

#: What an answer can be. ``done``: the step was carried out. ``skipped``: the operator chose not
#: to, and ``not-exercised``: nobody could be asked (no terminal, ``--no-operator``); both leave
#: the check not exercised. ``could-not``: the operator tried and could not (or the power switch
#: failed), and ``timeout``: no answer in time; both leave the check inconclusive.
ANSWERS = ("done", "skipped", "not-exercised", "could-not", "timeout")


@dataclass(frozen=True)
class OperatorAnswer:
    """How a step went: ``answer`` (one of :data:`ANSWERS`), ``by`` whom ("operator",
    "power-switch" or "nobody"), when it was asked and answered (seconds since the epoch, real
    time), a sentence of ``detail``, and what a power switch's commands did (``commands``)."""

    step: str
    answer: str
    by: str
    asked_at: float
    answered_at: float
    detail: str = ""
    commands: tuple[dict[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.answer not in ANSWERS:
            raise ValueError(f"operator answer must be one of {ANSWERS}, got {self.answer!r}")

    @property
    def waited_s(self) -> float:
        return max(0.0, self.answered_at - self.asked_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "answer": self.answer,
            "by": self.by,
            "asked_at": self.asked_at,
            "answered_at": self.answered_at,
            "waited_s": round(self.waited_s, 3),
            "detail": self.detail,
            "commands": [dict(c) for c in self.commands],
        }


class Operator(Protocol):
    """Whoever carries out operator steps. ``ask`` is bounded by the step's timeout."""

    def ask(self, step: OperatorStep) -> OperatorAnswer: ...


@dataclass(frozen=True)
class NoOperator:
    """Nobody to ask: every step is ``not-exercised``, with ``reason`` (why nobody)."""

    reason: str
    now: Callable[[], float] = real_now

    def ask(self, step: OperatorStep) -> OperatorAnswer:
        at = self.now()
        return OperatorAnswer(step.id, "not-exercised", "nobody", at, at, self.reason)
