"""The [operator] section of a device profile: how operator steps are carried out."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from drready.errors import ProfileError
from drready.profile.schema import validate_document

__all__ = ["OperatorSettings"]


@dataclass(frozen=True)
class OperatorSettings:
    """How operator steps are carried out ([operator]): a remote power switch instead of a
    person for "restart" (each command an argv list, run without a shell), and the bounds."""

    #: Switch the device off, and on again (argv lists); both or neither.
    power_off_command: tuple[str, ...] | None = None
    power_on_command: tuple[str, ...] | None = None
    #: How long the device stays off between the two commands.
    power_off_s: float = 10.0
    #: How long each command may run before it counts as failed.
    command_timeout_s: float = 60.0
    #: How long to wait for an operator's answer (every step); None: each step's own timeout.
    step_timeout_s: float | None = None
    #: How long the device may take to answer again after a restart.
    boot_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "operator", "operator")
        for name in ("power_off_command", "power_on_command"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        if (self.power_off_command is None) != (self.power_on_command is None):
            given = "power_off_command" if self.power_off_command else "power_on_command"
            raise ProfileError(
                "operator", "power_off_command and power_on_command together", f"only {given}"
            )
        for name in ("power_off_s", "command_timeout_s", "step_timeout_s", "boot_timeout_s"):
            value = getattr(self, name)
            if value is not None:  # TOML integers: one type, so equality is simple
                object.__setattr__(self, name, float(value))

    @property
    def power_switch(self) -> bool:
        return self.power_off_command is not None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                doc[f.name] = list(value) if isinstance(value, tuple) else value
        return doc
