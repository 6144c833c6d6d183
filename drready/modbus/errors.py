"""Exception hierarchy of the Modbus/SunSpec stack: everything derives from :class:`ModbusError`.

Messages are one line and name what a reader needs to find the fault: the peer, the unit, the
address, the model and point. Secondary bases (``ValueError``, ``TimeoutError``,
``ConnectionError``, ``LookupError``) keep ordinary Python idioms working.
"""

from __future__ import annotations

from drready.errors import ExchangeError

__all__ = [
    "EXCEPTION_NAMES",
    "ModbusConnectError",
    "ModbusError",
    "ModbusExceptionResponse",
    "ModbusTimeout",
    "SunSpecChainError",
    "SunSpecDecodeError",
    "SunSpecEncodeError",
    "SunSpecNotFound",
]

# Modbus application protocol exception codes.
EXCEPTION_NAMES = {
    0x01: "ILLEGAL FUNCTION",
    0x02: "ILLEGAL DATA ADDRESS",
    0x03: "ILLEGAL DATA VALUE",
    0x04: "SERVER DEVICE FAILURE",
    0x05: "ACKNOWLEDGE",
    0x06: "SERVER DEVICE BUSY",
    0x07: "NEGATIVE ACKNOWLEDGE",
    0x08: "MEMORY PARITY ERROR",
    0x0A: "GATEWAY PATH UNAVAILABLE",
    0x0B: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}


class ModbusError(Exception):
    """Base of every Modbus/SunSpec error raised by drready."""


class SunSpecDecodeError(ModbusError, ValueError):
    """Registers that are not a valid value of a point or a model block."""


class SunSpecEncodeError(ModbusError, ValueError):
    """A value that cannot be written to a point (out of range, wrong type, read-only)."""


class ModbusConnectError(ModbusError, ExchangeError, ConnectionError):
    """No TCP connection to the device within the bound."""


class ModbusTimeout(ModbusError, ExchangeError, TimeoutError):
    """No response within the bounded retries."""

    def __init__(
        self, peer: str, unit: int, request: str, address: int, attempts: int, timeout_s: float
    ) -> None:
        self.peer = peer
        self.unit = unit
        self.request = request
        self.address = address
        self.attempts = attempts
        self.timeout_s = timeout_s
        super().__init__(
            f"no response from {peer} unit {unit} to {request} (address {address}) "
            f"after {attempts} attempt(s) (timeout {timeout_s:g} s each)"
        )

    def __reduce__(
        self,
    ) -> tuple[type[ModbusTimeout], tuple[str, int, str, int, int, float]]:
        # Rebuild from the real arguments, not from the message in ``args``.
        return (
            type(self),
            (self.peer, self.unit, self.request, self.address, self.attempts, self.timeout_s),
        )


class ModbusExceptionResponse(ModbusError):
    """The device answered with a Modbus exception response."""

    def __init__(self, peer: str, unit: int, request: str, function_code: int, code: int) -> None:
        self.peer = peer
        self.unit = unit
        self.request = request
        self.function_code = function_code
        self.code = code
        self.code_name = EXCEPTION_NAMES.get(code, "unknown exception code")
        super().__init__(
            f"{peer} unit {unit} refused {request}: exception 0x{code:02X} {self.code_name} "
            f"(function 0x{function_code:02X})"
        )

    def __reduce__(
        self,
    ) -> tuple[type[ModbusExceptionResponse], tuple[str, int, str, int, int]]:
        return (
            type(self),
            (self.peer, self.unit, self.request, self.function_code, self.code),
        )


class SunSpecNotFound(ModbusError, LookupError):
    """No SunS marker at any of the base addresses, or a model the device does not have."""


class SunSpecChainError(ModbusError, ValueError):
    """The chain of models is malformed: a loop, too many models, or a length that does not fit."""
