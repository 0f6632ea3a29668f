"""Prefect's own test harness: a temporary local API server and database for the session.

Set ``VENDORGATE_PREFECT_TEST_API=http://127.0.0.1:PORT/api`` to run the tests against
an already running server instead (faster while developing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

if os.environ.get("VENDORGATE_TEST_ENV") == "prefect":
    # The prefect environment owns these tests: a broken prefect install must fail, not skip.
    import prefect  # noqa: F401
else:
    pytest.importorskip(
        "prefect", reason="needs the 'prefect' extra (the .venv-prefect environment)"
    )


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Run flows against a throw-away Prefect server (stopped at session end).

    The server's URL is also put into the environment: Prefect keeps temporary settings
    in a context variable, which threads started by a test (or by a token cache) do not
    inherit; without it they would start a server of their own.
    """
    url = os.environ.get("VENDORGATE_PREFECT_TEST_API")
    with pytest.MonkeyPatch.context() as mp:
        if url:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            mp.setenv("PREFECT_API_URL", url)
            with temporary_settings({PREFECT_API_URL: url}):
                yield
            return
        from prefect.settings import PREFECT_API_URL
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180):
            mp.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
            yield
