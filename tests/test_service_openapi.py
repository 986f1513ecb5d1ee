"""Schemathesis against /v1/openapi.json of a real `ticket-policy serve`: generated requests
for every operation (bounded examples); no 5xx, and every response — status, content type,
body — matches the document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_support import TOKEN, ServerProcess

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    token = tmp_path_factory.mktemp("admin") / "token"
    token.write_text(TOKEN)
    s = ServerProcess("--admin-token-file", str(token), "--echo")
    yield s
    s.close()


@pytest.mark.slow
def test_api_matches_its_openapi_document(server):
    # the operations are driven here rather than through schemathesis' pytest plugin, whose
    # lazy fixture loading does not work with pytest 9
    schema = schemathesis.openapi.from_url(server.url + "/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=CHECKS, timeout=30)

        check()
