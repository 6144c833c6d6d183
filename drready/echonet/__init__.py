"""ECHONET Lite stack: codec, property definitions, transports."""

from __future__ import annotations
