"""The IIIF Presentation 3.0 check: the official validator's JSON Schema (draft 7).

``presentation_errors(doc)`` lists what the schema rejects (empty when valid);
``assert_valid_presentation(doc)`` fails a test with those reasons. The schema is read from
``../shared/conformance/presentation-3/`` (outside the repository); where that folder is
absent, tests that need it skip with a clear message. Used by manifests, collections and
annotation pages alike.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "presentation-3"
SCHEMA = CONFORMANCE / "iiif_3_0.schema.json"
FIXTURES = CONFORMANCE / "fixtures"
# the fixtures the schema must reject (the validator's own broken examples)
BROKEN = (
    "broken_choice",
    "broken_collection",
    "broken_embedded_annos",
    "broken_service",
    "broken_simple_image",
    "collection_of_canvases",
    "non_cc_license",
    "old_format_label",
    "rights_lang_issues",
)


def require_schema() -> Path:
    if not SCHEMA.is_file():
        pytest.skip(
            f"IIIF Presentation 3.0 schema not found at {SCHEMA} (conformance material absent)"
        )
    return SCHEMA


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(require_schema().read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def presentation_errors(doc: Any) -> list[str]:
    """Every reason the schema gives to reject ``doc`` (best match first); [] when valid."""
    validator = _validator()
    errors = sorted(validator.iter_errors(doc), key=jsonschema.exceptions.relevance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors]


def assert_valid_presentation(doc: Any) -> None:
    errors = presentation_errors(doc)
    assert not errors, f"not valid IIIF Presentation 3.0 ({len(errors)} errors): {errors[:5]}"
