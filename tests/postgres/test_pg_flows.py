"""Flows, resume, the client and lineage with the metadata on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from flowtrack import Flow
from tests.conftest import reset_client

FLOW = """
    import os
    from flowtrack import FlowSpec, Parameter, step

    class PgFlow(FlowSpec):
        width = Parameter("width", default=5)

        @step
        def start(self):
            self.items = list(range(self.width))
            self.next(self.square, foreach="items")

        @step
        def square(self):
            self.sq = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.sq for i in inputs)
            self.next(self.check)

        @step
        def check(self):
            if os.environ.get("FAIL_CHECK"):
                raise RuntimeError("check fails")
            self.ok = True
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        PgFlow()
"""


@pytest.fixture
def pg_env(store_env, postgres_url, monkeypatch):
    monkeypatch.setenv("FLOWTRACK_METADATA", postgres_url)
    reset_client()
    return {"FLOWTRACK_METADATA": postgres_url}


def test_run_resume_and_lineage_on_postgres(pg_env, write_flow, run_flow):
    path = write_flow(FLOW)
    failed = run_flow(path, "run", "--width", "30", env={**pg_env, "FAIL_CHECK": "1"})
    assert failed.returncode == 1 and "check fails" in failed.stderr
    resumed = run_flow(path, "resume", env=pg_env)
    assert resumed.returncode == 0, resumed.stderr
    run = Flow("PgFlow").latest_run
    assert run.successful and run.data.total == sum(i * i for i in range(30))
    assert len(list(run["square"].tasks())) == 30
    join = run["join"].task
    assert join.origin_pathspec is not None  # reused from the failed run
    # lineage: the join read every square task's value
    assert len(join.inputs) == 30
    graph = join.lineage(upstream=True, depth=4)
    assert sum((a.name or "").endswith("/sq") for a in graph.artifacts) == 30
    # two hops further up: the square tasks read the foreach list made by start
    assert any((a.name or "").endswith("/start/1/items") for a in graph.artifacts)
