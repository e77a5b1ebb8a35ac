"""The whole API against its own OpenAPI schema, with generated requests (schemathesis).

Every operation registered on the NinjaAPI — whatever the apps add — gets SCHEMATHESIS_EXAMPLES
generated requests (default 15), valid and invalid ones, sent through Django's WSGI app to
the test database: once with a real API token of a seeded account, once with no credentials.
A run fails on any 5xx, any status code the schema does not declare for the operation, a
content type it does not declare, or a body that does not match the declared schema.
"""

import os

import schemathesis
from django.core.wsgi import get_wsgi_application
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
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(
    max_examples=EXAMPLES,
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


def _run_all(headers: dict) -> list[str]:
    failures = []
    for operation in _operations():

        @given(case=_strategy(operation))
        @SETTINGS
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 — collected, reported together below
            failures.append(f"{operation.label}: {exc}")
    return failures


def test_every_operation_with_a_token(users):
    _, raw = create_api_token(users["admin"], "schemathesis")
    failures = _run_all({"Authorization": f"Bearer {raw}"})
    assert not failures, "\n\n".join(failures)


def test_every_operation_without_credentials(db):
    failures = _run_all({})
    assert not failures, "\n\n".join(failures)
