"""The fluent tracking API (``flowtrack.start_run``, ``log_metric``...) against a
real store: run lifecycle, write-once params, metric histories and latest values,
tags, nested runs, implicit runs, experiments, ``search_runs`` results, logged
files and path confinement, and that buffered writes survive the process ending
(normally without ``end_run``, or by an exception inside ``start_run``).

Every test uses ``store_env`` (a fresh store, on PostgreSQL when
FLOWTRACK_TEST_METADATA=postgresql); tests/tracking/conftest.py resets the fluent
module's state after each test.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import flowtrack as ft
from flowtrack.tracking import (
    ActiveRun,
    InvalidParameterError,
    InvalidStateError,
    ResourceDoesNotExistError,
    RunStatus,
    TrackingClient,
    ViewType,
)
from flowtrack.tracking.fluent import api as _fluent

INFO_COLUMNS = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]


@pytest.fixture
def client(store_env: dict[str, str]) -> TrackingClient:
    return TrackingClient()


# -- run lifecycle ----------------------------------------------------------------------


def test_with_block_finishes_the_run(client: TrackingClient) -> None:
    experiment = ft.set_experiment("lifecycle")
    with ft.start_run(run_name="first") as run:
        assert isinstance(run, ActiveRun)
        assert ft.active_run() is not None and ft.active_run().info.run_id == run.info.run_id
        assert run.info.status == RunStatus.RUNNING and run.info.end_time is None
        ft.log_metric("m", 1.0)
    assert ft.active_run() is None
    stored = ft.get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FINISHED
    assert stored.info.run_name == "first"
    assert stored.info.experiment_id == experiment.experiment_id
    assert stored.info.lifecycle_stage == "active"
    assert stored.info.user_id == "tester"
    assert stored.info.start_time <= stored.info.end_time
    assert len(stored.info.run_id) == 32 and int(stored.info.run_id, 16) >= 0
    assert stored.info.run_uuid == stored.info.run_id
    assert stored.info.run_id in stored.info.artifact_uri
    tags = stored.data.tags
    assert tags["mlflow.runName"] == "first"
    assert tags["mlflow.user"] == "tester"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert stored.data.metrics == {"m": 1.0}
    assert ft.last_active_run().info.run_id == run.info.run_id
    assert ft.last_active_run().info.status == RunStatus.FINISHED
    found = ft.search_runs(filter_string="tags.`mlflow.user` = 'tester'", output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_runs_get_a_generated_name(store_env: dict[str, str]) -> None:
    with ft.start_run() as run:
        pass
    name = ft.get_run(run.info.run_id).info.run_name
    assert name and name == ft.get_run(run.info.run_id).data.tags["mlflow.runName"]
    assert len(name.split("-")) == 3


def test_exception_in_the_block_marks_the_run_failed(store_env: dict[str, str]) -> None:
    with pytest.raises(ZeroDivisionError):
        with ft.start_run() as run:
            ft.log_metric("loss", 0.5, step=1)
            ft.log_param("lr", 0.1)
            1 / 0  # noqa: B018
    assert ft.active_run() is None
    stored = ft.get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FAILED
    assert stored.info.end_time is not None
    # what was logged before the failure is kept
    assert stored.data.metrics == {"loss": 0.5}
    assert stored.data.params == {"lr": "0.1"}


def test_keyboard_interrupt_in_the_block_marks_the_run_killed(store_env: dict[str, str]) -> None:
    with pytest.raises(KeyboardInterrupt):
        with ft.start_run() as run:
            raise KeyboardInterrupt
    assert ft.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_end_run_with_a_status(store_env: dict[str, str]) -> None:
    run = ft.start_run()
    ft.log_metric("m", 2.0)
    ft.end_run(RunStatus.KILLED)
    assert ft.active_run() is None
    stored = ft.get_run(run.info.run_id)
    assert stored.info.status == RunStatus.KILLED and stored.info.end_time is not None
    assert stored.data.metrics == {"m": 2.0}  # end_run wrote the buffered point
    ft.end_run()  # nothing active: a no-op
    assert ft.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_end_run_refuses_an_unknown_status(store_env: dict[str, str]) -> None:
    ft.start_run()
    with pytest.raises(InvalidParameterError, match="status"):
        ft.end_run("DONE")


def test_end_run_inside_the_block_is_respected(store_env: dict[str, str]) -> None:
    with ft.start_run() as run:
        ft.end_run(RunStatus.FAILED)
        assert ft.active_run() is None
    # leaving the block does not end (or re-end) a run that is no longer active
    assert ft.get_run(run.info.run_id).info.status == RunStatus.FAILED


def test_resume_a_run_by_id(store_env: dict[str, str]) -> None:
    with ft.start_run(run_name="resumable") as run:
        ft.log_param("a", 1)
        ft.log_metric("m", 1.0, step=0)
    with ft.start_run(run_id=run.info.run_id) as resumed:
        assert resumed.info.run_id == run.info.run_id
        assert resumed.info.status == RunStatus.RUNNING
        ft.log_metric("m", 2.0, step=1)
        ft.log_param("a", 1)  # the same value again: fine
        with pytest.raises(InvalidParameterError):
            ft.log_param("a", 2)  # params logged before the resume are still write-once
    stored = ft.get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FINISHED
    assert stored.info.run_name == "resumable"
    assert stored.data.metrics == {"m": 2.0}
    assert len(TrackingClient().get_metric_history(run.info.run_id, "m")) == 2


def test_start_run_with_an_unknown_id(store_env: dict[str, str]) -> None:
    with pytest.raises(ResourceDoesNotExistError):
        ft.start_run(run_id="0" * 32)
    assert ft.active_run() is None


def test_start_run_tags_and_description(store_env: dict[str, str]) -> None:
    with ft.start_run(tags={"team": "ml", "n": 3}, description="a note") as run:
        pass
    tags = ft.get_run(run.info.run_id).data.tags
    assert tags["team"] == "ml" and tags["n"] == "3"
    assert tags["mlflow.note.content"] == "a note"


# -- params ----------------------------------------------------------------------------


def test_params_are_write_once(store_env: dict[str, str]) -> None:
    with ft.start_run() as run:
        assert ft.log_param("lr", 0.01) == 0.01  # returns the value, as MLflow does
        ft.log_param("lr", 0.01)  # the same value again: fine
        ft.log_param("lr", "0.01")  # same text
        with pytest.raises(InvalidParameterError, match=r"'0\.01'.*'0\.02'"):
            ft.log_param("lr", 0.02)
        ft.log_params({"batch": 32, "model": "svm"})
        with pytest.raises(InvalidParameterError):
            ft.log_params({"batch": 64})
    assert ft.get_run(run.info.run_id).data.params == {"lr": "0.01", "batch": "32",
                                                       "model": "svm"}


def test_params_are_per_run(store_env: dict[str, str]) -> None:
    with ft.start_run() as first:
        ft.log_param("lr", 1)
    with ft.start_run() as second:
        ft.log_param("lr", 2)  # another run: no conflict
    assert ft.get_run(first.info.run_id).data.params == {"lr": "1"}
    assert ft.get_run(second.info.run_id).data.params == {"lr": "2"}


def test_a_late_param_conflict_does_not_lose_metric_points(client: TrackingClient) -> None:
    """A param conflict the background writer finds (a value logged by the client
    after start_run) is reported, and the run's metric points of the same flush
    are kept (they used to be rolled back with the param)."""
    run = ft.start_run()
    client.log_param(run.info.run_id, "p", "1")
    ft.log_metric("m", 1.0)
    ft.log_param("p", "2")  # the fluent API has not seen p: the writer finds the conflict
    with pytest.raises(InvalidParameterError):
        ft.get_run(run.info.run_id)  # the flush reports the failed write
    assert [m.value for m in client.get_metric_history(run.info.run_id, "m")] == [1.0]


def test_a_late_param_conflict_is_reported_by_the_next_read(client: TrackingClient) -> None:
    run = ft.start_run()
    client.log_param(run.info.run_id, "p", "1")
    ft.log_param("p", "2")
    with pytest.raises(InvalidParameterError, match="write-once"):
        ft.get_run(run.info.run_id)
    assert ft.get_run(run.info.run_id).data.params == {"p": "1"}


def test_a_background_failure_is_reported_by_the_flush_that_follows_it(
        client: TrackingClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The background writer fails a write; a flush made after that write returned
    must raise the failure. The test holds the writer thread right after its write
    returns (before _drain_forever records the failure), to make the interleaving
    certain. (The writer now records the failure before releasing the lock.)"""
    import threading

    run = ft.start_run()
    _, buffer = _fluent.tracking_store()
    client.log_param(run.info.run_id, "p", "1")
    written = threading.Event()
    release = threading.Event()
    original = buffer._write_pending

    def write_pending(keep_failure: bool) -> None:
        had_work = bool(buffer._points or buffer._properties)
        try:
            original(keep_failure)
        finally:
            if had_work and threading.current_thread() is buffer._thread:
                written.set()  # the lock is released; the outcome not yet recorded
                release.wait(10)

    monkeypatch.setattr(buffer, "_write_pending", write_pending)
    ft.log_param("p", "2")  # conflicts in the background write
    buffer._wake.set()
    assert written.wait(10), "the background writer did not write"
    reported = False
    try:
        with pytest.raises(InvalidParameterError):
            buffer.flush()
        reported = True
    finally:
        release.set()
        if not reported:  # the writer records it late: keep it from failing the teardown
            deadline = time.monotonic() + 10
            while buffer._failure is None and time.monotonic() < deadline:
                time.sleep(0.01)
            buffer._failure = None


# -- metrics ---------------------------------------------------------------------------


def test_metric_history_and_latest_value(client: TrackingClient) -> None:
    with ft.start_run() as run:
        ft.log_metric("loss", 0.9, step=0, timestamp=1000)
        ft.log_metric("loss", 0.1, step=5, timestamp=900)  # greatest step: latest
        ft.log_metric("loss", 0.5, step=2, timestamp=5000)  # newest timestamp, lower step
        ft.log_metric("loss", 0.3, step=5, timestamp=800)  # same step, older timestamp
        ft.log_metric("acc", 1)  # ints are metrics too; default step 0
    stored = ft.get_run(run.info.run_id)
    assert stored.data.metrics == {"loss": 0.1, "acc": 1.0}
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (0, 1000, 0.9), (2, 5000, 0.5), (5, 800, 0.3), (5, 900, 0.1)]
    assert all(m.key == "loss" and m.run_id == run.info.run_id for m in history)
    [acc] = client.get_metric_history(run.info.run_id, "acc")
    assert acc.step == 0 and acc.value == 1.0 and isinstance(acc.timestamp, int)


def test_latest_value_across_separate_writes(store_env: dict[str, str]) -> None:
    run = ft.start_run()
    ft.log_metric("m", 5.0, step=10, timestamp=100)
    assert ft.get_run(run.info.run_id).data.metrics == {"m": 5.0}  # written (read flushes)
    ft.log_metric("m", 7.0, step=3, timestamp=999)  # a lower step: not the latest
    assert ft.get_run(run.info.run_id).data.metrics == {"m": 5.0}
    ft.log_metric("m", 6.0, step=10, timestamp=101)  # same step, later: the latest
    assert ft.get_run(run.info.run_id).data.metrics == {"m": 6.0}
    ft.log_metric("m", 8.0, step=10, timestamp=50)  # same step, earlier: not
    assert ft.get_run(run.info.run_id).data.metrics == {"m": 6.0}
    ft.log_metric("m", 1.0, step=11, timestamp=1)
    assert ft.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_latest_value_ties_on_step_and_time_take_the_greatest_value(
        store_env: dict[str, str]) -> None:
    run = ft.start_run()
    for value in (3.0, 7.0, 5.0):
        ft.log_metric("m", value, step=1, timestamp=100)
    assert ft.get_run(run.info.run_id).data.metrics == {"m": 7.0}


def test_log_metrics_share_step_and_timestamp(client: TrackingClient) -> None:
    run = ft.start_run()
    ft.log_metrics({"a": 1.0, "b": 2.0}, step=4)
    [a] = client.get_metric_history(run.info.run_id, "a")
    [b] = client.get_metric_history(run.info.run_id, "b")
    assert (a.step, b.step) == (4, 4) and a.timestamp == b.timestamp
    assert ft.get_run(run.info.run_id).data.metrics == {"a": 1.0, "b": 2.0}


def test_nan_and_infinite_metrics(client: TrackingClient) -> None:
    run = ft.start_run()
    ft.log_metric("nan", float("nan"))
    ft.log_metric("inf", float("inf"), step=0)
    ft.log_metric("inf", float("-inf"), step=1)
    metrics = ft.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == float("-inf")
    assert [m.value for m in client.get_metric_history(run.info.run_id, "inf")] == [
        float("inf"), float("-inf")]
    [point] = client.get_metric_history(run.info.run_id, "nan")
    assert math.isnan(point.value)


INVALID_METRICS = [("m", "high"), ("m", True), ("m", None), ("m", 1j), ("", 1.0),
                   ("a/../b", 1.0), ("bad*key", 1.0), ("/abs", 1.0), ("x" * 249, 1.0)]


def test_invalid_metrics_are_refused(store_env: dict[str, str]) -> None:
    run = ft.start_run()
    for key, value in INVALID_METRICS:
        with pytest.raises(InvalidParameterError):  # key, value: see the locals
            ft.log_metric(key, value)  # type: ignore[arg-type]
    assert ft.get_run(run.info.run_id).data.metrics == {}


def test_an_out_of_range_step_is_refused_and_loses_nothing(client: TrackingClient) -> None:
    run = ft.start_run()
    for step in range(5):
        ft.log_metric("good", float(step), step=step)
    with pytest.raises(InvalidParameterError):
        ft.log_metric("bad", 1.0, step=2**63)
        ft.get_run(run.info.run_id)  # refused when logged, or at the latest when written
    assert [m.step for m in client.get_metric_history(run.info.run_id, "good")] == [0, 1, 2, 3, 4]


def test_invalid_step_and_timestamp_are_refused(store_env: dict[str, str]) -> None:
    ft.start_run()
    with pytest.raises(InvalidParameterError):
        ft.log_metric("m", 1.0, step="one")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        ft.log_metric("m", 1.0, timestamp=1.5)  # type: ignore[arg-type]
    ft.log_metric("m", 1.0, step=2.0, timestamp=10.0)  # type: ignore[arg-type]  # integral
    [point] = TrackingClient().get_metric_history(ft.active_run().info.run_id, "m")
    assert (point.step, point.timestamp) == (2, 10)


# -- tags --------------------------------------------------------------------------------


def test_tags_set_overwrite_and_delete(store_env: dict[str, str]) -> None:
    with ft.start_run() as run:
        ft.set_tag("team", "ml")
        ft.set_tags({"stage": "dev", "version": 2})
        ft.set_tag("stage", "prod")  # tags, unlike params, can change
        ft.delete_tag("team")
        with pytest.raises(ResourceDoesNotExistError):
            ft.delete_tag("never-set")
    tags = ft.get_run(run.info.run_id).data.tags
    assert tags["stage"] == "prod" and tags["version"] == "2"
    assert "team" not in tags


def test_long_values_are_refused(store_env: dict[str, str]) -> None:
    ft.start_run()
    with pytest.raises(InvalidParameterError):
        ft.log_param("p", "x" * 6001)
    with pytest.raises(InvalidParameterError):
        ft.set_tag("t", "x" * 8001)
    ft.log_param("p", "x" * 6000)
    ft.set_tag("t", "y" * 8000)
    data = ft.get_run(ft.active_run().info.run_id).data
    assert data.params["p"] == "x" * 6000 and data.tags["t"] == "y" * 8000


# -- nested runs -------------------------------------------------------------------------


def test_nested_runs(store_env: dict[str, str]) -> None:
    with ft.start_run(run_name="parent") as parent:
        with pytest.raises(InvalidParameterError, match="nested=True"):
            ft.start_run()
        assert ft.active_run().info.run_id == parent.info.run_id  # still the parent
        with ft.start_run(run_name="child", nested=True) as child:
            assert ft.active_run().info.run_id == child.info.run_id
            ft.log_metric("m", 1.0)  # goes to the child
            with ft.start_run(run_name="grandchild", nested=True) as grandchild:
                pass
        assert ft.active_run().info.run_id == parent.info.run_id
        ft.log_metric("m", 2.0)  # goes to the parent
    assert ft.active_run() is None
    stored = {r.info.run_id: r for r in ft.search_runs(output_format="list")}
    assert set(stored) == {parent.info.run_id, child.info.run_id, grandchild.info.run_id}
    assert "mlflow.parentRunId" not in stored[parent.info.run_id].data.tags
    assert stored[child.info.run_id].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert stored[grandchild.info.run_id].data.tags["mlflow.parentRunId"] == child.info.run_id
    assert stored[parent.info.run_id].data.metrics == {"m": 2.0}
    assert stored[child.info.run_id].data.metrics == {"m": 1.0}
    assert all(r.info.status == RunStatus.FINISHED for r in stored.values())
    children = ft.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                              output_format="list")
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_failing_child_does_not_end_the_parent(store_env: dict[str, str]) -> None:
    with ft.start_run() as parent:
        with pytest.raises(ValueError):
            with ft.start_run(nested=True) as child:
                raise ValueError("child broke")
        assert ft.active_run().info.run_id == parent.info.run_id
    assert ft.get_run(child.info.run_id).info.status == RunStatus.FAILED
    assert ft.get_run(parent.info.run_id).info.status == RunStatus.FINISHED


def test_explicit_parent_run_id(store_env: dict[str, str]) -> None:
    with ft.start_run() as parent:
        pass
    with ft.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert ft.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id


# -- implicit runs and experiments -------------------------------------------------------


def test_logging_without_a_run_starts_one_in_default(store_env: dict[str, str]) -> None:
    assert ft.active_run() is None
    ft.log_metric("m", 3.0)
    run = ft.active_run()
    assert run is not None and run.info.status == RunStatus.RUNNING
    ft.log_param("p", "v")  # the same implicit run
    assert ft.active_run().info.run_id == run.info.run_id
    assert ft.get_experiment(run.info.experiment_id).name == "Default"
    assert ft.get_experiment("0").experiment_id == run.info.experiment_id
    found = ft.search_runs(experiment_ids=["0"], output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert found[0].data.metrics == {"m": 3.0} and found[0].data.params == {"p": "v"}
    ft.end_run()
    assert ft.get_run(run.info.run_id).info.status == RunStatus.FINISHED


def test_implicit_run_goes_to_the_active_experiment(store_env: dict[str, str]) -> None:
    experiment = ft.set_experiment("implicit")
    ft.set_tag("t", "v")
    assert ft.active_run().info.experiment_id == experiment.experiment_id


def test_set_experiment_by_name_creates_it_once(store_env: dict[str, str]) -> None:
    assert ft.get_experiment_by_name("new-exp") is None
    first = ft.set_experiment("new-exp")
    assert first.name == "new-exp" and first.lifecycle_stage == "active"
    again = ft.set_experiment("new-exp")
    assert again.experiment_id == first.experiment_id
    assert ft.get_experiment_by_name("new-exp").experiment_id == first.experiment_id
    other = ft.set_experiment(experiment_id=first.experiment_id)
    assert other.name == "new-exp"
    with ft.start_run() as run:
        pass
    assert run.info.experiment_id == first.experiment_id
    names = [e.name for e in ft.search_experiments()]
    assert names.count("new-exp") == 1


def test_set_experiment_arguments(store_env: dict[str, str]) -> None:
    with pytest.raises(InvalidParameterError):
        ft.set_experiment()
    with pytest.raises(InvalidParameterError):
        ft.set_experiment("a", experiment_id="1")
    with pytest.raises(ResourceDoesNotExistError):
        ft.set_experiment(experiment_id="987654")
    with pytest.raises(InvalidParameterError):
        ft.set_experiment("   ")


def test_set_experiment_of_a_deleted_experiment(client: TrackingClient) -> None:
    experiment_id = ft.create_experiment("gone")
    client.delete_experiment(experiment_id)
    with pytest.raises(InvalidStateError):
        ft.set_experiment("gone")
    with pytest.raises(InvalidStateError):
        ft.start_run(experiment_id=experiment_id)


def test_experiment_from_the_environment(store_env: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWTRACK_EXPERIMENT_NAME", "from-env")
    with ft.start_run() as run:
        pass
    assert ft.get_experiment(run.info.experiment_id).name == "from-env"


def test_start_run_in_an_explicit_experiment(store_env: dict[str, str]) -> None:
    ft.set_experiment("active-one")
    other = ft.create_experiment("explicit-one", tags={"k": "v"})
    with ft.start_run(experiment_id=other) as run:
        pass
    assert run.info.experiment_id == other
    assert ft.get_experiment(other).tags == {"k": "v"}


# -- search_runs --------------------------------------------------------------------------


def _next_millisecond() -> None:
    """Wait for the clock's next millisecond, so runs started after it sort after
    runs started before (start_run stamps the current millisecond)."""
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 == start:
        time.sleep(0.0002)


def _three_runs() -> tuple[str, list[str]]:
    experiment = ft.set_experiment("searched")
    ids = []
    for i, (model, acc) in enumerate([("svm", 0.7), ("cnn", 0.9), ("svm", 0.8)]):
        _next_millisecond()
        with ft.start_run(run_name=f"r{i}") as run:
            ft.log_param("model", model)
            ft.log_metric("acc", acc)
            if i == 1:
                ft.set_tag("best", "yes")
        ids.append(run.info.run_id)
    return experiment.experiment_id, ids


def test_search_runs_dataframe(store_env: dict[str, str]) -> None:
    pd = pytest.importorskip("pandas")
    experiment_id, ids = _three_runs()
    frame = ft.search_runs()
    assert list(frame.columns[:6]) == INFO_COLUMNS
    extra = list(frame.columns[6:])
    assert extra[:2] == ["metrics.acc", "params.model"]
    assert "tags.best" in extra and "tags.mlflow.runName" in extra
    assert extra == sorted(extra, key=lambda c: (c.split(".")[0] != "metrics",
                                                 c.split(".")[0] != "params", c))
    # newest first by default
    assert frame["run_id"].tolist() == ids[::-1]
    assert (frame["experiment_id"] == experiment_id).all()
    assert (frame["status"] == "FINISHED").all()
    assert frame["metrics.acc"].tolist() == [0.8, 0.9, 0.7]
    assert frame["params.model"].tolist() == ["svm", "cnn", "svm"]
    best = frame["tags.best"].tolist()
    assert best[1] == "yes" and pd.isna(best[0]) and pd.isna(best[2])
    assert frame["tags.mlflow.runName"].tolist() == ["r2", "r1", "r0"]
    assert isinstance(frame["start_time"].dtype, pd.DatetimeTZDtype)
    assert str(frame["start_time"].dt.tz) == "UTC"
    first = ft.get_run(ids[0]).info
    assert frame["start_time"].iloc[2] == pd.Timestamp(first.start_time, unit="ms", tz="UTC")
    assert frame["end_time"].iloc[2] == pd.Timestamp(first.end_time, unit="ms", tz="UTC")
    assert frame["artifact_uri"].iloc[2] == first.artifact_uri


def test_search_runs_filter_order_and_limit(store_env: dict[str, str]) -> None:
    _, ids = _three_runs()
    frame = ft.search_runs(filter_string="params.model = 'svm'", order_by=["metrics.acc DESC"])
    assert frame["run_id"].tolist() == [ids[2], ids[0]]
    frame = ft.search_runs(order_by=["metrics.acc ASC"], max_results=2)
    assert frame["metrics.acc"].tolist() == [0.7, 0.8]
    frame = ft.search_runs(filter_string="metrics.acc > 5")
    assert len(frame) == 0 and list(frame.columns) == INFO_COLUMNS


def test_search_runs_as_a_list(store_env: dict[str, str]) -> None:
    _, ids = _three_runs()
    runs = ft.search_runs(output_format="list", filter_string="tags.best = 'yes'")
    assert [r.info.run_id for r in runs] == [ids[1]]
    assert runs[0].data.metrics == {"acc": 0.9} and runs[0].data.params == {"model": "cnn"}
    with pytest.raises(InvalidParameterError):
        ft.search_runs(output_format="json")


def test_search_runs_by_experiment_names(store_env: dict[str, str]) -> None:
    _, ids = _three_runs()
    ft.set_experiment("other")
    _next_millisecond()
    with ft.start_run() as other:
        pass
    # the active experiment by default
    assert [r.info.run_id for r in ft.search_runs(output_format="list")] == [other.info.run_id]
    by_name = ft.search_runs(experiment_names=["searched"], output_format="list")
    assert [r.info.run_id for r in by_name] == ids[::-1]
    both = ft.search_runs(experiment_names=["searched", "other", "missing"],
                          output_format="list")
    assert {r.info.run_id for r in both} == {*ids, other.info.run_id}
    assert ft.search_runs(experiment_names=["missing"], output_format="list") == []
    everywhere = ft.search_runs(search_all_experiments=True, output_format="list")
    assert {r.info.run_id for r in everywhere} == {*ids, other.info.run_id}


def test_search_runs_syntax_error(store_env: dict[str, str]) -> None:
    _three_runs()
    with pytest.raises(ft.tracking.SearchSyntaxError, match="position"):
        ft.search_runs(filter_string="metrics.acc >")
    with pytest.raises(InvalidParameterError):
        ft.search_runs(filter_string="params.model = 1")


def test_deleted_runs_leave_the_default_search(client: TrackingClient) -> None:
    _, ids = _three_runs()
    ft.delete_run(ids[0])
    assert ft.get_run(ids[0]).info.lifecycle_stage == "deleted"
    assert {r.info.run_id for r in ft.search_runs(output_format="list")} == set(ids[1:])
    deleted = ft.search_runs(output_format="list", run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [ids[0]]
    assert len(ft.search_runs(output_format="list", run_view_type=ViewType.ALL)) == 3


def test_fluent_logging_to_a_deleted_run_is_refused(client: TrackingClient) -> None:
    """As in MLflow, logging to a deleted run fails (the buffered path used to
    write it anyway)."""
    with ft.start_run() as run:
        pass
    client.delete_run(run.info.run_id)
    with pytest.raises(InvalidStateError):
        ft.log_metric("m", 1.0, run_id=run.info.run_id)
        ft.get_run(run.info.run_id)  # or when the buffered write is made


# -- files ---------------------------------------------------------------------------------


def test_logged_files_round_trip(client: TrackingClient, tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("alpha")
    (local / "sub" / "b.bin").write_bytes(b"\x00\x01\xff")
    single = tmp_path / "model.pkl"
    single.write_bytes(b"weights" * 100)
    config = {"layers": [1, 2], "name": "net", "nested": {"x": 1.5}}
    with ft.start_run() as run:
        ft.log_text("hello ünïcode", "notes/readme.txt")
        ft.log_dict(config, "config.json")
        ft.log_dict(config, "conf/config.yaml")
        ft.log_dict(config, "conf/config.yml")
        ft.log_artifact(single)
        ft.log_artifact(single, artifact_path="models/best")
        ft.log_artifacts(local, artifact_path="data")
        ft.log_artifacts(local)
    run_id = run.info.run_id
    root = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in root] == [
        ("a.txt", False), ("conf", True), ("config.json", False), ("data", True),
        ("model.pkl", False), ("models", True), ("notes", True), ("sub", True)]
    sizes = {f.path: f.file_size for f in root}
    assert sizes["model.pkl"] == 700 and sizes["a.txt"] == 5 and sizes["conf"] is None
    assert [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "data")] == [
        ("data/a.txt", False, 5), ("data/sub", True, None)]
    assert [f.path for f in client.list_artifacts(run_id, "data/sub")] == ["data/sub/b.bin"]
    assert [f.path for f in client.list_artifacts(run_id, "models")] == ["models/best"]
    assert client.list_artifacts(run_id, "nothing-here") == []
    assert client.list_artifacts(run_id, "a.txt") == []  # a file, not a directory

    out = tmp_path / "out"
    readme = Path(client.download_artifacts(run_id, "notes/readme.txt", str(out)))
    assert readme == out / "notes" / "readme.txt"
    assert readme.read_text(encoding="utf-8") == "hello ünïcode"
    assert json.loads(Path(client.download_artifacts(run_id, "config.json", str(out)))
                      .read_text()) == config
    for name in ("conf/config.yaml", "conf/config.yml"):
        text = Path(client.download_artifacts(run_id, name, str(out))).read_text()
        assert yaml.safe_load(text) == config and not text.lstrip().startswith("{")
    data = Path(client.download_artifacts(run_id, "data", str(out / "d")))
    assert data == out / "d" / "data"
    assert (data / "a.txt").read_text() == "alpha"
    assert (data / "sub" / "b.bin").read_bytes() == b"\x00\x01\xff"
    assert (Path(client.download_artifacts(run_id, "models/best/model.pkl", str(out)))
            .read_bytes() == b"weights" * 100)
    everything = Path(client.download_artifacts(run_id, "", str(out / "all")))
    assert sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*")
                  if p.is_file()) == [
        "a.txt", "conf/config.yaml", "conf/config.yml", "config.json", "data/a.txt",
        "data/sub/b.bin", "model.pkl", "models/best/model.pkl", "notes/readme.txt",
        "sub/b.bin"]
    default_dst = Path(client.download_artifacts(run_id, "a.txt"))
    assert default_dst.read_text() == "alpha"


def test_relogging_a_file_replaces_it(client: TrackingClient, tmp_path: Path) -> None:
    with ft.start_run() as run:
        ft.log_text("one", "f.txt")
        ft.log_text("two!", "./f.txt")  # the same normalized path
    [info] = client.list_artifacts(run.info.run_id)
    assert (info.path, info.file_size) == ("f.txt", 4)
    assert Path(client.download_artifacts(run.info.run_id, "f.txt", str(tmp_path))
                ).read_text() == "two!"


def test_paths_are_normalized(client: TrackingClient, tmp_path: Path) -> None:
    with ft.start_run() as run:
        ft.log_text("x", "a//b/./c.txt")
    assert [f.path for f in client.list_artifacts(run.info.run_id, "a/b")] == ["a/b/c.txt"]


def test_log_figure(client: TrackingClient, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1], [1, 0])
    with ft.start_run() as run:
        ft.log_figure(figure, "plots/line.png")
        ft.log_figure(figure, "plots/line.svg")
        with pytest.raises(InvalidParameterError):
            ft.log_figure("not a figure", "x.png")
    files = {f.path: f for f in client.list_artifacts(run.info.run_id, "plots")}
    assert set(files) == {"plots/line.png", "plots/line.svg"}
    png = Path(client.download_artifacts(run.info.run_id, "plots/line.png", str(tmp_path)))
    assert png.read_bytes().startswith(b"\x89PNG")
    svg = Path(client.download_artifacts(run.info.run_id, "plots/line.svg", str(tmp_path)))
    assert b"<svg" in svg.read_bytes()


def test_get_artifact_uri(store_env: dict[str, str]) -> None:
    with ft.start_run() as run:
        assert ft.get_artifact_uri() == run.info.artifact_uri
        assert ft.get_artifact_uri("a/b.txt") == run.info.artifact_uri + "/a/b.txt"
        with pytest.raises(InvalidParameterError):
            ft.get_artifact_uri("../x")


BAD_PATHS = ["/etc/passwd", "../escape.txt", "a/../../escape.txt", "a/..", "..",
             "dir\\file.txt", "nul\x00.txt", "C:/windows.txt", "", ".", "./"]


def test_log_text_refuses_paths_outside_the_run(client: TrackingClient) -> None:
    with ft.start_run() as run:
        for path in BAD_PATHS:
            with pytest.raises(InvalidParameterError, match="artifact path|file name"):
                ft.log_text("x", path)
    assert client.list_artifacts(run.info.run_id) == []


def test_other_calls_refuse_paths_outside_the_run(client: TrackingClient,
                                                  tmp_path: Path) -> None:
    local = tmp_path / "f.txt"
    local.write_text("data")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "g.txt").write_text("g")
    with ft.start_run() as run:
        for bad in ("../up", "/abs", "a\\b", "x/../../y"):
            with pytest.raises(InvalidParameterError):
                ft.log_artifact(local, artifact_path=bad)
            with pytest.raises(InvalidParameterError):
                ft.log_artifacts(folder, artifact_path=bad)
        with pytest.raises(InvalidParameterError):
            ft.log_dict({"a": 1}, "../conf.json")
        with pytest.raises(InvalidParameterError):
            ft.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(InvalidParameterError):
            ft.log_artifacts(tmp_path / "missing-dir")
        with pytest.raises(InvalidParameterError):
            ft.log_artifacts(local)  # a file, not a directory
        ft.log_text("ok", "inside.txt")
    run_id = run.info.run_id
    assert [f.path for f in client.list_artifacts(run_id)] == ["inside.txt"]
    for bad in ("../inside.txt", "/inside.txt", "..\\inside.txt"):
        with pytest.raises(InvalidParameterError):
            client.download_artifacts(run_id, bad, str(tmp_path / "dl"))
        with pytest.raises(InvalidParameterError):
            client.list_artifacts(run_id, bad)
    assert not (tmp_path / "inside.txt").exists()


# -- nothing lost when the process ends ------------------------------------------------------


def _run_script(store_env: dict[str, str], tmp_path: Path, source: str
                ) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=store_env,
                          capture_output=True, text=True, timeout=120)


NO_END_RUN = """
    import flowtrack as ft

    ft.set_experiment("exiting")
    run = ft.start_run(run_name="no-end")
    ft.log_param("points", 20000)
    for i in range(20000):
        ft.log_metric("loss", 1.0 / (i + 1), step=i)
    ft.set_tag("done", "yes")
    print(run.info.run_id, flush=True)
    # no end_run: the interpreter's exit must write what is still buffered
"""


def test_exit_without_end_run_keeps_every_point(client: TrackingClient,
                                                 store_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    done = _run_script(store_env, tmp_path, NO_END_RUN)
    assert done.returncode == 0, done.stderr
    assert "could not write" not in done.stderr
    run_id = done.stdout.split()[-1]
    history = client.get_metric_history(run_id, "loss")
    assert len(history) == 20000
    assert [m.step for m in history] == list(range(20000))
    assert history[-1].value == 1.0 / 20000 and history[0].value == 1.0
    run = client.get_run(run_id)
    assert run.data.metrics == {"loss": 1.0 / 20000}
    assert run.data.params == {"points": "20000"} and run.data.tags["done"] == "yes"


def test_exit_without_end_run_finishes_the_run(client: TrackingClient,
                                               store_env: dict[str, str],
                                               tmp_path: Path) -> None:
    """Like MLflow, a run still active at the interpreter's exit ends FINISHED, after
    its buffered points are written."""
    done = _run_script(store_env, tmp_path, """
        import flowtrack as ft
        run = ft.start_run()
        ft.log_metric("m", 1.0)
        print(run.info.run_id)
    """)
    assert done.returncode == 0, done.stderr
    run = client.get_run(done.stdout.split()[-1])
    assert run.info.status == RunStatus.FINISHED and run.info.end_time is not None
    assert run.data.metrics == {"m": 1.0}


RAISES = """
    import flowtrack as ft

    ft.set_experiment("crashing")
    with ft.start_run(run_name="crash") as run:
        print(run.info.run_id, flush=True)
        for i in range(5000):
            ft.log_metric("acc", i / 5000, step=i)
        ft.log_param("lr", 0.5)
        raise RuntimeError("diverged")
"""


def test_exception_in_a_script_fails_the_run_and_keeps_the_points(
        client: TrackingClient, store_env: dict[str, str], tmp_path: Path) -> None:
    done = _run_script(store_env, tmp_path, RAISES)
    assert done.returncode == 1
    assert "RuntimeError: diverged" in done.stderr
    run_id = done.stdout.split()[0]
    run = client.get_run(run_id)
    assert run.info.status == RunStatus.FAILED and run.info.end_time is not None
    assert run.data.params == {"lr": "0.5"}
    assert run.data.metrics == {"acc": 4999 / 5000}
    history = client.get_metric_history(run_id, "acc")
    assert [m.step for m in history] == list(range(5000))
    assert client.get_experiment(run.info.experiment_id).name == "crashing"


def test_points_logged_from_other_threads_by_run_id(client: TrackingClient) -> None:
    import threading

    run = ft.start_run()

    def work(offset: int) -> None:
        for i in range(100):
            ft.log_metric("m", float(i), step=offset + i, run_id=run.info.run_id)

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ft.end_run()
    history = client.get_metric_history(run.info.run_id, "m")
    assert len(history) == 400
    assert [m.step for m in history] == sorted(k * 1000 + i for k in range(4) for i in range(100))
    assert _fluent.active_run() is None
