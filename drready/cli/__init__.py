"""The ``drready`` command line: thin commands over the run, report and bundle layers."""

from __future__ import annotations

from drready.cli.main import main

__all__ = ["main"]
