"""Check stage: JSON Schema first (errors translated onto the YAML marks), then meaning.

`check_document` collects every problem it can find and returns the immutable `Policy` model only
when there is no error. The schema checks are in `engine.check.schema`, the semantic ones in
`engine.check.declarations` (what the policy declares) and `engine.check.semantic` (conditions,
rules, tables, the model).
"""

from __future__ import annotations

from engine.check.schema import SCHEMA_DIR as SCHEMA_DIR
from engine.check.schema import policy_schema as policy_schema
from engine.check.schema import schema_diagnostics
from engine.check.semantic import DEFAULT_MAX_FIRINGS as DEFAULT_MAX_FIRINGS
from engine.check.semantic import check_semantics
from engine.core.diagnostics import Diagnostic
from engine.core.model import Policy
from engine.load import Document


def check_document(doc: Document) -> tuple[Policy | None, list[Diagnostic]]:
    """Schema, then semantic checks. Returns the model only when there is no error."""
    diags = schema_diagnostics(doc)
    if diags:
        return None, diags
    return check_semantics(doc)
