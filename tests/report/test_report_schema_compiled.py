"""The report is validated by the compiled schema first (jsonschema-rs) and by jsonschema when
that refuses it: the two must agree on every document, or the fast path would pass what the
reference refuses."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError, best_match

from drready.report.json_report import _compiled, _validator, validate_report
from tests.report.test_inconclusive import _document


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _mutants(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with one value replaced by one of another type, or one key removed."""
    for path in list(_paths(document))[1:]:
        for value in (None, 3, -1.5, "x", [], {}, True):
            mutant = copy.deepcopy(document)
            parent = mutant
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
            yield mutant
        if isinstance(path[-1], str):
            mutant = copy.deepcopy(document)
            parent = mutant
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
            yield mutant


def test_the_compiled_schema_agrees_with_jsonschema_on_every_mutant() -> None:
    document = _document()
    assert _compiled().is_valid(document)
    refused = 0
    for mutant in _mutants(document):
        reference = best_match(_validator().iter_errors(mutant)) is None
        assert _compiled().is_valid(mutant) == reference, mutant
        refused += not reference
    assert refused > 100  # the mutants do reach the schema's constraints


def test_an_invalid_report_is_refused_with_jsonschemas_reason() -> None:
    document = _document()
    document["requirements"][0]["verdict"] = "unsure"
    with pytest.raises(ValidationError, match="'unsure' is not one of"):
        validate_report(document)
