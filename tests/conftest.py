"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

pytest_plugins = ["pytester"]
