"""The hostile-code suite refuses to run unless functions are proven isolated.

A handler that kills every process it can see is harmless in a sandbox and ruinous outside one,
so before any hostile test a harmless probe must show the sandbox: an unprivileged user, no
capabilities, and only its own processes in view.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import FUNCTIONS_DIR, ROLE, MakeFunction, handler_zip, wait_active

PROBE = "isolation-probe"


@pytest.fixture(scope="session")
def proven_isolated(lamina_server: Any, lambda_client: Any) -> None:
    if os.environ.get("LAMINA_SANDBOX") == "process":
        pytest.skip("the process backend was chosen explicitly: it does not isolate functions")
    package = handler_zip((FUNCTIONS_DIR / "hostile.py").read_text())
    lambda_client.create_function(
        FunctionName=PROBE, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": package},
    )  # fmt: skip
    try:
        wait_active(lambda_client, PROBE)
        response = lambda_client.invoke(FunctionName=PROBE, Payload=b'{"attempt": "whoami"}')
        seen = json.loads(response["Payload"].read())
    finally:
        lambda_client.delete_function(FunctionName=PROBE)
    isolated = (
        isinstance(seen, dict)
        and seen.get("uid") not in (None, 0)
        and seen.get("capabilities") == ["0000000000000000"]
        and set(seen.get("processes", [])) <= {1, 2}
    )
    if not isolated:
        pytest.fail(f"refusing to run hostile code: the probe is not isolated: {seen}")


@pytest.fixture
def hostile(proven_isolated: None, make_function: MakeFunction) -> Callable[..., str]:
    """Deploy the hostile function (with optional settings) once the sandbox is proven."""

    def deploy(**settings: Any) -> str:
        return make_function(file="hostile.py", **settings)

    return deploy
