"""schemathesis over the tracking server (REST API, artifacts, web UI): whatever it
sends, no 5xx.

The schema is derived from the server's route table (``server_schema``); schemathesis
generates requests from it (bounded: ``EXAMPLES`` per operation, derandomized under
CI) and sends them to a real ``flowtrack server`` on a loopback port, whose store
holds one experiment, run and registered model, so some ids exist.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import flowtrack.server  # noqa: F401 - registers the routes the schema is made from
from tests.reliability.server_schema import server_openapi
from tests.server.conftest import RunningServer, launch

EXAMPLES = 20
schema = schemathesis.openapi.from_dict(server_openapi())


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = launch(tmp_path_factory.mktemp("fuzzed"))
    api = running.api
    with httpx.Client(timeout=30) as client:
        experiment = client.post(api("experiments/create"), json={"name": "fuzz"}).json()
        run = client.post(api("runs/create"), json={
            "experiment_id": experiment["experiment_id"]}).json()["run"]
        client.post(api("runs/log-metric"), json={
            "run_id": run["info"]["run_id"], "key": "m", "value": 1.0, "timestamp": 1,
            "step": 0})
        client.post(api("registered-models/create"), json={"name": "fuzz-model"})
    yield running
    running.stop()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_request_gets_a_server_error(case, fuzzed_server):
    response = case.call(base_url=fuzzed_server.url, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: "
        f"{response.text[:500]}\nreproduce: {case.as_curl_command()}")
