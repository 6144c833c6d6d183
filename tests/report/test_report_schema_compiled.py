"""The report is validated by the compiled schema first (jsonschema-rs) and by jsonschema when
that refuses it: the two must agree on every document, or the fast path would pass what the
reference refuses."""

from __future__ import annotations

import pytest
from jsonschema.exceptions import ValidationError, best_match

from drready.report.json_report import _compiled, _validator, validate_report
from tests.helpers import mutants
from tests.report.test_inconclusive import _document


def test_the_compiled_schema_agrees_with_jsonschema_on_every_mutant() -> None:
    document = _document()
    assert _compiled().is_valid(document)
    refused = 0
    for mutant in mutants(document):
        reference = best_match(_validator().iter_errors(mutant)) is None
        assert _compiled().is_valid(mutant) == reference, mutant
        refused += not reference
    assert refused > 100  # the mutants do reach the schema's constraints


def test_an_invalid_report_is_refused_with_jsonschemas_reason() -> None:
    document = _document()
    document["requirements"][0]["verdict"] = "unsure"
    with pytest.raises(ValidationError, match="'unsure' is not one of"):
        validate_report(document)
