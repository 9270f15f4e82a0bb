"""Schemathesis against the gateway's own OpenAPI (app.openapi()), valid and invalid data for
every operation, with a bounded and reproducible budget: no 5xx, and every answer conforms to
what the schema declares (body, content type, headers). The internal API, without the shared
token, refuses whatever it is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)
from schemathesis.errors import FailureGroup

from bot.gateway.security import WIDGET_API
from tests.security.conftest import AUTH

EXAMPLES = 25  # per operation and generation mode; derandomised: the same cases every run
# Besides never a 5xx. Not status_code_conformance: the routes do not declare the statuses of
# their refusals (401, 403, 404, 413, 415, 429, 503), which the other tests check one by one.
SCHEMA_CHECKS = [
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
BUDGET = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def request(case, headers: dict[str, str]) -> dict[str, Any]:
    """The case as httpx arguments (schemathesis builds them for requests)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs.pop("cookies", None)  # none are generated: the inbox is not in the schema
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    return kwargs


def operations(client):
    schema = schemathesis.openapi.from_dict(client.app.openapi())
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda operation: (operation.path, operation.method))


def fuzz(operation, mode: GenerationMode, check: Callable[[Case], None]) -> int:
    """Run check on the budget's cases of one operation; returns how many there were."""
    count = 0

    @BUDGET
    @given(case=operation.as_strategy(mode))
    def run(case: Case) -> None:
        nonlocal count
        count += 1
        check(case)

    run()
    return count


def modes(operation) -> list[GenerationMode]:
    """Invalid data too, where the operation takes any."""
    takes = any(operation.iter_parameters()) or operation.get_request_payload_content_types()
    return [GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if takes else [])]


def test_no_operation_fails_or_breaks_its_schema(channels):
    violations = set()

    def conforms(case: Case) -> None:
        response = channels.request(**request(case, AUTH))
        case.validate_response(response, checks=[not_a_server_error])
        for check in SCHEMA_CHECKS:
            try:
                case.validate_response(response, checks=[check])
            except FailureGroup:
                violations.add((case.method, case.path, response.status_code, check.__name__))

    calls = sum(fuzz(op, mode, conforms) for op in operations(channels) for mode in modes(op))
    assert calls >= 300
    assert violations == set()


def test_the_internal_api_refuses_every_call_without_the_token(channels):
    def refused_without_token(headers: dict[str, str]) -> Callable[[Case], None]:
        def check(case: Case) -> None:
            assert channels.request(**request(case, headers)).status_code == 401

        return check

    internal = [
        operation
        for operation in operations(channels)
        if operation.path.startswith("/api/") and not operation.path.startswith(WIDGET_API)
    ]
    assert {"/api/handoffs", "/api/erasures", "/api/availability"} <= {o.path for o in internal}
    for operation in internal:
        for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": "Basic x"}):
            fuzz(operation, GenerationMode.POSITIVE, refused_without_token(headers))
