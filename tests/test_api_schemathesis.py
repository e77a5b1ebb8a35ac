"""The whole API against its own OpenAPI schema, with generated requests (schemathesis).

Every operation registered on the NinjaAPI — whatever the apps add — gets SCHEMATHESIS_EXAMPLES
generated requests (default 15), valid and invalid ones, sent through Django's WSGI app to
the test database with a real API token of a seeded account; then a fifth as many with no
credentials at all.
A run fails on any 5xx, any status code the schema does not declare for the operation, a
content type it does not declare, or a body that does not match the declared schema.
"""

import os
from contextlib import contextmanager

import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from grassroots.accounts.services import create_api_token

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))
# Without credentials every operation answers 401 before it reads a parameter, so a few
# requests each show that (generating a request costs more than answering it here).
ANONYMOUS_EXAMPLES = max(1, EXAMPLES // 5)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure as found
    verbosity=Verbosity.quiet,
)


def _operations():
    from grassroots.api.api import api

    schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
    schema.app = get_wsgi_application()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # every app's endpoints, whatever they are
    return operations


def _strategy(operation):
    """Valid requests, and invalid ones where the operation has something to get wrong."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    try:
        negative = operation.as_strategy(GenerationMode.NEGATIVE)
        return st.one_of(positive, negative)
    except Exception:  # nothing to make invalid (no parameters, no body)
        return positive


@contextmanager
def _connection_kept():
    """As Django's test client does: a request must not close the test's database connection
    (the WSGI handler's close_old_connections would, at the end of every request on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _run_all(headers: dict, examples: int) -> list[str]:
    failures = []
    with _connection_kept():
        for operation in _operations():
            failures.extend(_run_one(operation, headers, examples))
    return failures


def _run_one(operation, headers: dict, examples: int) -> list[str]:
    """The failures of one operation (one entry per distinct failure group)."""

    @given(case=_strategy(operation))
    @settings(SETTINGS, max_examples=examples)
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Exception as exc:  # noqa: BLE001 — collected, reported together in the test
        return [f"{operation.label}: {exc}"]
    return []


def test_every_operation_with_a_token(users):
    _, raw = create_api_token(users["admin"], "schemathesis")
    failures = _run_all({"Authorization": f"Bearer {raw}"}, EXAMPLES)
    assert not failures, "\n\n".join(failures)


def test_every_operation_without_credentials(db):
    failures = _run_all({}, ANONYMOUS_EXAMPLES)
    assert not failures, "\n\n".join(failures)
