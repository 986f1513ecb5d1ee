"""Every diagnostic code the service emits is documented, and docs/service.md names every
endpoint of the OpenAPI document."""

from __future__ import annotations

import re

from conftest import ROOT

from engine.adapters.service.openapi import build

SERVICE = ROOT / "engine" / "adapters" / "service"


def test_every_service_code_is_in_errors_md():
    pattern = re.compile(r'(?:http_diagnostic|Diagnostic)\(\s*"([a-z_]+)"')
    codes = set()
    for path in SERVICE.glob("*.py"):
        codes |= set(pattern.findall(path.read_text("utf-8")))
    assert {"body_too_large", "unsupported_media_type", "not_ready"} <= codes
    docs = (ROOT / "docs" / "errors.md").read_text("utf-8")
    assert not sorted(c for c in codes if f"`{c}`" not in docs)


def test_service_doc_lists_every_endpoint():
    text = (ROOT / "docs" / "service.md").read_text("utf-8")
    for path, ops in build(["p"], max_batch_items=1, echo=True)["paths"].items():
        for method in ops:
            assert f"{method.upper()} {path}" in text or path in text, (method, path)
