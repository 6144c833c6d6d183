"""Root conftest: lets `pytest suites ...` and `pytest tests ...` run from a checkout.

The drready plugin itself is registered through the pytest11 entry point (pyproject.toml), so
nothing needs loading here; this file marks the repository root for pytest's rootdir and imports.
"""
