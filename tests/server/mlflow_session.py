"""The official mlflow client, kept running for a test module: ``MlflowSession`` starts
the client's interpreter (the virtualenv ``make mlflow-client`` builds) once with
clients/mlflow_repl.py and runs snippets in it, so each test pays no import of mlflow.
``run`` returns what a snippet put in ``result``; ``fails`` returns the error a snippet
raised (the client's ``MlflowException`` with its error code)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPL = Path(__file__).parent / "clients" / "mlflow_repl.py"
DEFAULT_VENV = Path.home() / ".cache" / "flowtrack" / "mlflow-client"


def mlflow_python() -> str:
    """The interpreter of the virtualenv holding the official mlflow client."""
    found = os.environ.get("FLOWTRACK_TEST_MLFLOW_PYTHON") or str(DEFAULT_VENV / "bin" / "python")
    if not Path(found).exists():
        message = (f"No mlflow client virtualenv at {found}; run `make mlflow-client` (make test "
                   "does) or set FLOWTRACK_TEST_MLFLOW_PYTHON.")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def client_env(url: str, **extra: str) -> dict[str, str]:
    """The environment for the mlflow client against the server at ``url``: no
    retries (a test wants the first answer), no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "FLOWTRACK_"))}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
               MLFLOW_HTTP_REQUEST_TIMEOUT="60", MLFLOW_DISABLE_TELEMETRY="true",
               PYTHONWARNINGS="ignore", **extra)
    return env


class MlflowSession:
    def __init__(self, url: str, **env: str) -> None:
        self.process = subprocess.Popen([mlflow_python(), str(REPL)], env=client_env(url, **env),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def _ask(self, code: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"code": textwrap.dedent(code)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the mlflow client process ended (exit {self.process.poll()})"
        return json.loads(line)

    def run(self, code: str) -> Any:
        """Run ``code``; what it assigned to ``result``. A raised error fails the test."""
        answer = self._ask(code)
        assert "error" not in answer, f"the mlflow client raised: {answer['error']}"
        return answer["result"]

    def fails(self, code: str) -> dict[str, Any]:
        """Run ``code``, which must raise; the error (type, error_code, message)."""
        answer = self._ask(code)
        assert "error" in answer, f"expected an error, the client returned {answer['result']!r}"
        return answer["error"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
