"""Run in the official mlflow client's virtualenv by tests/server/mlflow_session.py:
reads one JSON request per line on stdin ({"code": ...}), runs the code with
``mlflow``, ``client`` (an ``MlflowClient``) and ``result`` in scope, and answers one
JSON line: {"result": <result>} or {"error": {"type", "error_code", "message"}} when
the code raised (an ``MlflowException`` keeps its error code). Needs
MLFLOW_TRACKING_URI."""

import contextlib
import json
import sys
import traceback

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

scope = {"mlflow": mlflow, "client": MlflowClient(), "result": None}


def plain(value):
    """``value`` as JSON can hold it: entities through their ``to_dictionary`` or
    ``__dict__``-like views, everything else as its string."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    for method in ("to_dictionary", "to_dict"):
        if hasattr(value, method):
            try:
                return plain(getattr(value, method)())
            except Exception:  # noqa: BLE001 - fall back to the string
                pass
    return str(value)


for line in sys.stdin:
    request = json.loads(line)
    scope["result"] = None
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the answers
            exec(request["code"], scope)  # noqa: S102 - the tests' own snippets
        answer = {"result": plain(scope["result"])}
    except MlflowException as exc:
        answer = {"error": {"type": type(exc).__name__, "error_code": exc.error_code,
                            "message": exc.message}}
    except Exception as exc:  # noqa: BLE001 - reported to the test
        answer = {"error": {"type": type(exc).__name__, "error_code": None,
                            "message": str(exc), "traceback": traceback.format_exc()}}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
