"""``TrackingClient`` (MLflow's ``MlflowClient``) against a real store: every method,
its errors, deletion and restoring with ``ViewType`` filtering, pagination, and
``log_batch`` limits. Client writes are immediate (no buffer).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import flowtrack as ft
from flowtrack.tracking import (
    Experiment,
    InvalidParameterError,
    InvalidStateError,
    Metric,
    MlflowException,
    PagedList,
    Param,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    TrackingClient,
    TrackingError,
    ViewType,
)
from tests.conftest import database_url

NAN = float("nan")


@pytest.fixture
def client(store_env: dict[str, str]) -> TrackingClient:
    return TrackingClient()


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    experiment_id = client.create_experiment("exp")
    return client.create_run(experiment_id, run_name="r").info.run_id


# -- experiments -------------------------------------------------------------------------


def test_create_and_get_experiment(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("proj", artifact_location="s3://bucket/proj",
                                             tags={"team": "ml", "n": 1})
    assert isinstance(experiment_id, str) and experiment_id.isdigit()
    experiment = client.get_experiment(experiment_id)
    assert isinstance(experiment, Experiment)
    assert experiment.experiment_id == experiment_id and experiment.name == "proj"
    assert experiment.lifecycle_stage == "active"
    assert experiment.artifact_location == "s3://bucket/proj"
    assert experiment.tags == {"team": "ml", "n": "1"}
    assert isinstance(experiment.creation_time, int) and experiment.creation_time > 0
    assert client.get_experiment(int(experiment_id)).name == "proj"  # type: ignore[arg-type]
    assert client.get_experiment_by_name("proj") == experiment
    plain = client.get_experiment(client.create_experiment("plain"))
    assert plain.artifact_location and plain.tags == {}


def test_duplicate_experiment(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("dup")
    with pytest.raises(ResourceAlreadyExistsError, match=experiment_id):
        client.create_experiment("dup")
    client.delete_experiment(experiment_id)
    with pytest.raises(ResourceAlreadyExistsError, match="deleted"):
        client.create_experiment("dup")  # a deleted experiment keeps its name


def test_invalid_experiment_names(client: TrackingClient) -> None:
    for name in ["", "   ", "x" * 256, "nul\x00name", None, 3]:
        with pytest.raises(InvalidParameterError):
            client.create_experiment(name)  # type: ignore[arg-type]
    assert client.search_experiments(view_type=ViewType.ALL) == []


def test_missing_experiments(client: TrackingClient) -> None:
    assert client.get_experiment_by_name("nope") is None
    client.create_experiment("some")  # the tracking types exist now
    assert client.get_experiment_by_name("nope") is None
    for missing in ("987654", "-1", "99999999999"):
        with pytest.raises(ResourceDoesNotExistError):
            client.get_experiment(missing)
    for malformed in ("abc", "", "1.5"):  # MLflow's 400, not a 404
        with pytest.raises(InvalidParameterError, match="must be a valid integer"):
            client.get_experiment(malformed)
    with pytest.raises(ResourceDoesNotExistError):
        client.delete_experiment("987654")
    with pytest.raises(ResourceDoesNotExistError):
        client.rename_experiment("987654", "x")
    with pytest.raises(ResourceDoesNotExistError):
        client.set_experiment_tag("987654", "k", "v")


def test_default_experiment_is_id_zero(client: TrackingClient) -> None:
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert client.get_experiment_by_name("Default") == default
    assert default.experiment_id == "0"  # MLflow's id for it, whatever its row is
    run = client.create_run("0")
    assert run.info.experiment_id == "0"
    assert run.info.artifact_uri.endswith(f"/0/{run.info.run_id}/artifacts")
    assert [r.info.run_id for r in client.search_runs(["0"])] == [run.info.run_id]
    assert client.get_run(run.info.run_id).info.experiment_id == "0"
    client.rename_experiment("0", "Renamed")  # it keeps id "0", as in MLflow
    assert client.get_experiment("0").name == "Renamed"
    assert client.get_experiment_by_name("Renamed").experiment_id == "0"


def test_an_experiment_id_of_a_run_is_not_an_experiment(client: TrackingClient,
                                                        run_id: str) -> None:
    from flowtrack.tracking.fluent.api import tracking_store

    store, _ = tracking_store()
    run_pk = str(store.run_pk(run_id))
    with pytest.raises(ResourceDoesNotExistError):
        client.get_experiment(run_pk)  # the run's context id is no experiment's id


def test_search_experiments(client: TrackingClient) -> None:
    ids = {name: client.create_experiment(name, tags={"team": team})
           for name, team in [("proj-a", "x"), ("proj-b", "y"), ("other", "x")]}
    found = client.search_experiments()
    assert isinstance(found, PagedList) and found.token is None
    assert {e.name for e in found} >= set(ids)
    assert [e.name for e in client.search_experiments(filter_string="name LIKE 'proj-%'",
                                                      order_by=["name DESC"])] == [
        "proj-b", "proj-a"]
    assert [e.name for e in client.search_experiments(filter_string="tags.team = 'x'",
                                                      order_by=["name ASC"])] == [
        "other", "proj-a"]
    assert [e.name for e in client.search_experiments(
        filter_string="tags.team = 'x' AND name ILIKE 'PROJ%'")] == ["proj-a"]
    assert len(client.search_experiments(max_results=2)) == 2
    by_id = client.search_experiments(order_by=["experiment_id ASC"])
    assert [int(e.experiment_id) for e in by_id] == sorted(int(e.experiment_id) for e in by_id)
    with pytest.raises(InvalidParameterError):
        client.search_experiments(filter_string="name === 'x'")
    with pytest.raises(InvalidParameterError):
        client.search_experiments(order_by=["colour DESC"])
    # the fluent function is the same search
    assert [e.name for e in ft.search_experiments(filter_string="name = 'other'")] == ["other"]


def test_delete_and_restore_experiment(client: TrackingClient) -> None:
    keep = client.create_experiment("keep")
    gone = client.create_experiment("gone")
    client.delete_experiment(gone)
    assert client.get_experiment(gone).lifecycle_stage == "deleted"
    assert client.get_experiment_by_name("gone").lifecycle_stage == "deleted"
    names = lambda view: {e.name for e in client.search_experiments(view_type=view)}  # noqa: E731
    assert "gone" not in names(ViewType.ACTIVE_ONLY) and "keep" in names(ViewType.ACTIVE_ONLY)
    assert names(ViewType.DELETED_ONLY) == {"gone"}
    assert {"gone", "keep"} <= names(ViewType.ALL)
    with pytest.raises(InvalidStateError):
        client.create_run(gone)
    client.restore_experiment(gone)
    assert client.get_experiment(gone).lifecycle_stage == "active"
    assert names(ViewType.DELETED_ONLY) == set()
    assert client.create_run(gone).info.experiment_id == gone
    assert client.get_experiment(keep).lifecycle_stage == "active"


def test_rename_experiment(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("before")
    client.create_experiment("taken")
    client.rename_experiment(experiment_id, "after")
    assert client.get_experiment(experiment_id).name == "after"
    assert client.get_experiment_by_name("before") is None
    assert client.get_experiment_by_name("after").experiment_id == experiment_id
    with pytest.raises(ResourceAlreadyExistsError):
        client.rename_experiment(experiment_id, "taken")
    with pytest.raises(InvalidParameterError):
        client.rename_experiment(experiment_id, "")
    assert client.get_experiment(experiment_id).name == "after"


def test_set_experiment_tag(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("tagged", tags={"a": "1"})
    client.set_experiment_tag(experiment_id, "b", 2)
    client.set_experiment_tag(experiment_id, "a", "changed")
    assert client.get_experiment(experiment_id).tags == {"a": "changed", "b": "2"}
    with pytest.raises(InvalidParameterError):
        client.set_experiment_tag(experiment_id, "bad*key", "v")


# -- runs ------------------------------------------------------------------------------------


def test_create_and_get_run(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("runs")
    run = client.create_run(experiment_id, start_time=1_700_000_000_000,
                            tags={"team": "ml"}, run_name="first")
    assert isinstance(run, Run)
    info = run.info
    assert info.experiment_id == experiment_id and info.run_name == "first"
    assert info.status == RunStatus.RUNNING and info.end_time is None
    assert info.start_time == 1_700_000_000_000 and info.user_id == "tester"
    assert info.lifecycle_stage == "active"
    assert run.data.tags["team"] == "ml" and run.data.tags["mlflow.runName"] == "first"
    assert run.data.metrics == {} and run.data.params == {}
    assert client.get_run(info.run_id) == run
    named_by_tag = client.create_run(experiment_id, tags={"mlflow.runName": "from-tag"})
    assert named_by_tag.info.run_name == "from-tag"
    assert run.to_dictionary()["info"]["run_id"] == info.run_id


def test_unknown_runs(client: TrackingClient, run_id: str) -> None:
    for bad in ("0" * 32, "", "not-a-run", run_id.upper()):
        with pytest.raises(ResourceDoesNotExistError):
            client.get_run(bad)
    unknown = "f" * 32
    for call in (lambda: client.log_metric(unknown, "m", 1.0),
                 lambda: client.log_param(unknown, "p", 1),
                 lambda: client.set_tag(unknown, "t", 1),
                 lambda: client.delete_tag(unknown, "t"),
                 lambda: client.update_run(unknown, status="FINISHED"),
                 lambda: client.set_terminated(unknown),
                 lambda: client.delete_run(unknown),
                 lambda: client.restore_run(unknown),
                 lambda: client.get_metric_history(unknown, "m"),
                 lambda: client.log_text(unknown, "x", "a.txt"),
                 lambda: client.list_artifacts(unknown)):
        with pytest.raises(ResourceDoesNotExistError):
            call()
    with pytest.raises(ResourceDoesNotExistError):
        client.create_run("987654")
    with pytest.raises(ResourceDoesNotExistError):
        client.search_runs(["987654"])


def test_errors_carry_mlflow_codes(client: TrackingClient) -> None:
    with pytest.raises(MlflowException) as caught:
        client.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert caught.value.http_status == 404
    client.create_experiment("coded")
    with pytest.raises(TrackingError) as dup:
        client.create_experiment("coded")
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_an_unreachable_tracking_server_is_a_clear_error(store_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TrackingError, match=f"Cannot reach the tracking server at "
                                            f"http://127.0.0.1:{port}"):
        TrackingClient(f"http://127.0.0.1:{port}").create_experiment("x")


def test_explicit_tracking_uris_are_separate_stores(client: TrackingClient,
                                                    tmp_path: Path) -> None:
    client.create_experiment("in-default")
    directory = TrackingClient(str(tmp_path / "embedded"))
    experiment_id = directory.create_experiment("in-directory")
    run = directory.create_run(experiment_id)
    directory.log_metric(run.info.run_id, "m", 1.0)
    assert (tmp_path / "embedded" / "metadata.db").is_file()
    assert client.get_experiment_by_name("in-directory") is None
    assert directory.get_experiment_by_name("in-default") is None
    assert TrackingClient(str(tmp_path / "embedded")).get_run(run.info.run_id).data.metrics == {
        "m": 1.0}
    url = TrackingClient(database_url(tmp_path / "by-url.db"))
    assert url.get_experiment_by_name("in-default") is None
    url.create_experiment("in-url")
    assert client.get_experiment_by_name("in-url") is None


def test_update_run(client: TrackingClient, run_id: str) -> None:
    info = client.update_run(run_id, name="renamed")
    assert isinstance(info, RunInfo)
    assert info.run_name == "renamed" and info.status == RunStatus.RUNNING
    assert client.get_run(run_id).data.tags["mlflow.runName"] == "renamed"
    info = client.update_run(run_id, status=RunStatus.KILLED)
    assert info.status == RunStatus.KILLED and info.end_time is not None
    assert info.run_name == "renamed"
    with pytest.raises(InvalidParameterError):
        client.update_run(run_id, status="EXPLODED")
    assert client.get_run(run_id).info.status == RunStatus.KILLED


def test_set_terminated(client: TrackingClient, run_id: str) -> None:
    client.set_terminated(run_id)
    info = client.get_run(run_id).info
    assert info.status == RunStatus.FINISHED and info.end_time >= info.start_time
    client.set_terminated(run_id, status=RunStatus.FAILED, end_time=1_800_000_000_000)
    info = client.get_run(run_id).info
    assert info.status == RunStatus.FAILED and info.end_time == 1_800_000_000_000


def test_delete_and_restore_run(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("deleting")
    keep = client.create_run(experiment_id, start_time=1000).info.run_id
    gone = client.create_run(experiment_id, start_time=2000).info.run_id
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    ids = lambda view: [r.info.run_id for r in  # noqa: E731
                        client.search_runs([experiment_id], run_view_type=view)]
    assert ids(ViewType.ACTIVE_ONLY) == [keep]
    assert ids(ViewType.DELETED_ONLY) == [gone]
    assert ids(ViewType.ALL) == [gone, keep]
    assert ids(ViewType.ACTIVE_ONLY) == [r.info.run_id for r in client.search_runs([experiment_id])]
    with pytest.raises(InvalidParameterError):
        client.search_runs([experiment_id], run_view_type=7)
    client.restore_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == [gone, keep]
    assert ids(ViewType.DELETED_ONLY) == []
    client.restore_run(gone)  # restoring an active run changes nothing
    assert ids(ViewType.ALL) == [gone, keep]


def test_logging_to_a_deleted_run(client: TrackingClient, run_id: str) -> None:
    client.log_param(run_id, "before", 1)
    client.delete_run(run_id)
    for call in (lambda: client.log_metric(run_id, "m", 1.0),
                 lambda: client.log_param(run_id, "p", 1),
                 lambda: client.set_tag(run_id, "t", "v"),
                 lambda: client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])):
        with pytest.raises(InvalidStateError, match="deleted"):
            call()
    data = client.get_run(run_id).data
    assert data.params == {"before": "1"} and data.metrics == {} and "t" not in data.tags
    client.restore_run(run_id)
    client.log_metric(run_id, "m", 1.0)
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


def test_search_runs_pages(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("paged")
    ids = []
    for i in range(25):
        run = client.create_run(experiment_id, start_time=1_000_000 + i)
        client.log_metric(run.info.run_id, "i", float(i))
        ids.append(run.info.run_id)
    newest_first = ids[::-1]
    pages, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=10, page_token=token)
        assert isinstance(page, PagedList)
        pages.append([r.info.run_id for r in page])
        token = page.token
        if token is None:
            break
        assert isinstance(token, str)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p] == newest_first
    # exactly max_results left: no further page
    last = client.search_runs([experiment_id], max_results=25)
    assert len(last) == 25 and last.token is None
    # pages of a filtered, ordered search
    first = client.search_runs([experiment_id], filter_string="metrics.i >= 5",
                               order_by=["metrics.i ASC"], max_results=8)
    second = client.search_runs([experiment_id], filter_string="metrics.i >= 5",
                                order_by=["metrics.i ASC"], max_results=8,
                                page_token=first.token)
    third = client.search_runs([experiment_id], filter_string="metrics.i >= 5",
                               order_by=["metrics.i ASC"], max_results=8,
                               page_token=second.token)
    assert [r.data.metrics["i"] for r in first + second + third] == [float(i) for i in
                                                                      range(5, 25)]
    assert third.token is None and len(third) == 4


def test_search_runs_arguments_are_checked(client: TrackingClient, run_id: str) -> None:
    experiment_id = client.get_run(run_id).info.experiment_id
    for max_results in [0, -1, 50_001, True, 2.5, "10", None]:
        with pytest.raises(InvalidParameterError, match="max_results"):
            client.search_runs([experiment_id], max_results=max_results)  # type: ignore[arg-type]
    # base64 garbage, a negative offset, null, an object without an offset
    for token in ["garbage", "eyJvZmZzZXQiOiAtMX0=", "bnVsbA==", "eyJ4IjogMX0="]:
        with pytest.raises(InvalidParameterError, match="page_token"):
            client.search_runs([experiment_id], page_token=token)
    assert len(client.search_runs([experiment_id], max_results=50_000)) == 1


def test_search_runs_over_several_experiments(client: TrackingClient) -> None:
    a = client.create_experiment("a")
    b = client.create_experiment("b")
    run_a = client.create_run(a, start_time=1).info.run_id
    run_b = client.create_run(b, start_time=2).info.run_id
    assert [r.info.run_id for r in client.search_runs([a, b])] == [run_b, run_a]
    assert [r.info.run_id for r in client.search_runs([a])] == [run_a]
    assert client.search_runs([]) == []


# -- logging -------------------------------------------------------------------------------


def test_log_metric_param_tag(client: TrackingClient, run_id: str) -> None:
    client.log_metric(run_id, "acc", 0.5, timestamp=100, step=1)
    client.log_metric(run_id, "acc", 0.7, timestamp=50, step=2)
    assert client.log_param(run_id, "lr", 0.1) == 0.1
    client.log_param(run_id, "lr", 0.1)  # the same value: fine
    with pytest.raises(InvalidParameterError, match="write-once"):
        client.log_param(run_id, "lr", 0.2)
    client.set_tag(run_id, "team", "ml")
    client.set_tag(run_id, "team", "ops")
    data = client.get_run(run_id).data
    assert data.metrics == {"acc": 0.7}
    assert data.params == {"lr": "0.1"}
    assert data.tags["team"] == "ops"
    client.delete_tag(run_id, "team")
    assert "team" not in client.get_run(run_id).data.tags
    with pytest.raises(ResourceDoesNotExistError):
        client.delete_tag(run_id, "team")
    with pytest.raises(InvalidParameterError):
        client.log_metric(run_id, "acc", "high")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        client.log_param(run_id, "bad key!", 1)


def test_log_metric_keeps_a_zero_timestamp(client: TrackingClient, run_id: str) -> None:
    """timestamp=0 is a timestamp (it used to be replaced by the current time)."""
    client.log_metric(run_id, "m", 1.0, timestamp=0, step=3)
    [point] = client.get_metric_history(run_id, "m")
    assert (point.timestamp, point.step) == (0, 3)


def test_out_of_range_step_and_timestamp_are_invalid_parameters(client: TrackingClient,
                                                                run_id: str) -> None:
    for step, timestamp in ((2**63, 1), (-(2**63) - 1, 1), (0, 2**63)):
        with pytest.raises(InvalidParameterError):
            client.log_metric(run_id, "m", 1.0, timestamp=timestamp, step=step)
    client.log_metric(run_id, "m", 1.0, timestamp=2**63 - 1, step=-(2**63))  # the limits
    [point] = client.get_metric_history(run_id, "m")
    assert (point.step, point.timestamp) == (-(2**63), 2**63 - 1)


def test_log_batch(client: TrackingClient, run_id: str) -> None:
    metrics = [Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(10)]
    metrics.append(Metric("acc", 0.9, 5, 0))
    client.log_batch(run_id, metrics=metrics, params=[Param("a", "1"), Param("b", "2")],
                     tags=[RunTag("t", "x")])
    data = client.get_run(run_id).data
    assert data.metrics == {"loss": 0.1, "acc": 0.9}
    assert data.params == {"a": "1", "b": "2"} and data.tags["t"] == "x"
    assert len(client.get_metric_history(run_id, "loss")) == 10
    client.log_batch(run_id)  # nothing: fine
    with pytest.raises(InvalidParameterError, match="same param twice"):
        client.log_batch(run_id, params=[Param("c", "1"), Param("c", "1")])
    with pytest.raises(InvalidParameterError):
        client.log_batch(run_id, params=[Param("a", "changed")])
    # a failing batch writes nothing of itself
    with pytest.raises(InvalidParameterError):
        client.log_batch(run_id, metrics=[Metric("new", 1.0, 1, 0)],
                         params=[Param("a", "changed"), Param("fresh", "v")],
                         tags=[RunTag("t", "y")])
    data = client.get_run(run_id).data
    assert "new" not in data.metrics and "fresh" not in data.params and data.tags["t"] == "x"


def test_log_batch_limits(client: TrackingClient, run_id: str) -> None:
    metric = [Metric(f"m{i % 7}", float(i), i, i) for i in range(1001)]
    params = [Param(f"p{i}", "v") for i in range(101)]
    tags = [RunTag(f"t{i}", "v") for i in range(101)]
    with pytest.raises(InvalidParameterError, match="at most"):
        client.log_batch(run_id, metrics=metric)
    with pytest.raises(InvalidParameterError, match="at most"):
        client.log_batch(run_id, params=params)
    with pytest.raises(InvalidParameterError, match="at most"):
        client.log_batch(run_id, metrics=metric[:1000], params=params[:1])  # 1001 in all
    with pytest.raises(InvalidParameterError, match="at most"):
        client.log_batch(run_id, params=params[:100], tags=tags)  # 201 params and tags
    assert client.get_run(run_id).data.params == {}
    # the limits themselves are fine
    client.log_batch(run_id, metrics=metric[:1000])
    client.log_batch(run_id, params=params[:100], tags=tags[:100])
    data = client.get_run(run_id).data
    assert len(data.params) == 100 and sum(k.startswith("t") for k in data.tags) == 100
    assert sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(7)) == 1000


def test_log_batch_refuses_101_tags(client: TrackingClient, run_id: str) -> None:
    """100 tags per call at most (200 used to pass when no params came along)."""
    with pytest.raises(InvalidParameterError):
        client.log_batch(run_id, tags=[RunTag(f"t{i}", "v") for i in range(101)])


def test_get_metric_history(client: TrackingClient, run_id: str) -> None:
    client.log_batch(run_id, metrics=[Metric("m", 3.0, 30, 2), Metric("m", 1.0, 10, 0)])
    client.log_metric(run_id, "m", NAN, timestamp=20, step=1)
    client.log_metric(run_id, "m", 2.5, timestamp=5, step=2)  # same step, earlier
    client.log_metric(run_id, "m", float("inf"), timestamp=40, step=3)
    history = client.get_metric_history(run_id, "m")
    assert all(isinstance(m, Metric) and m.key == "m" and m.run_id == run_id for m in history)
    assert [(m.step, m.timestamp) for m in history] == [(0, 10), (1, 20), (2, 5), (2, 30),
                                                        (3, 40)]
    values = [m.value for m in history]
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2:] == [2.5, 3.0, float("inf")]
    assert client.get_run(run_id).data.metrics == {"m": float("inf")}
    assert client.get_metric_history(run_id, "never-logged") == []


# -- files ----------------------------------------------------------------------------------


def test_files(client: TrackingClient, run_id: str, tmp_path: Path) -> None:
    local = tmp_path / "model.txt"
    local.write_text("weights")
    folder = tmp_path / "folder"
    (folder / "deep").mkdir(parents=True)
    (folder / "x.csv").write_text("a,b\n1,2\n")
    (folder / "deep" / "y.bin").write_bytes(bytes(range(256)))
    client.log_artifact(run_id, local)
    client.log_artifact(run_id, str(local), artifact_path="models")
    client.log_artifacts(run_id, folder, artifact_path="data")
    client.log_artifacts(run_id, str(folder))
    client.log_text(run_id, "some text", "notes/n.txt")
    client.log_dict(run_id, {"k": [1, 2]}, "d.json")
    client.log_dict(run_id, {"k": [1, 2]}, "d.yaml")
    root = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in root] == [
        ("d.json", False, len(json.dumps({"k": [1, 2]}, indent=2))),
        ("d.yaml", False, len("k:\n- 1\n- 2\n")), ("data", True, None), ("deep", True, None),
        ("model.txt", False, 7), ("models", True, None), ("notes", True, None),
        ("x.csv", False, 8)]
    assert [f.path for f in client.list_artifacts(run_id, "data/deep")] == ["data/deep/y.bin"]
    assert [f.path for f in client.list_artifacts(run_id, "data/deep/")] == ["data/deep/y.bin"]
    dst = tmp_path / "dst"
    path = client.download_artifacts(run_id, "data", str(dst))
    assert Path(path) == dst / "data"
    assert (dst / "data" / "deep" / "y.bin").read_bytes() == bytes(range(256))
    assert (dst / "data" / "x.csv").read_text() == "a,b\n1,2\n"
    assert Path(client.download_artifacts(run_id, "d.yaml", str(dst))).read_text() == \
        "k:\n- 1\n- 2\n"
    assert json.loads(Path(client.download_artifacts(run_id, "d.json", str(dst))).read_text()) \
        == {"k": [1, 2]}
    with pytest.raises(ResourceDoesNotExistError):
        client.download_artifacts(run_id, "missing.txt", str(dst))
    with pytest.raises(InvalidParameterError):
        client.log_text(run_id, "x", "")  # no file name
    with pytest.raises(InvalidParameterError):
        client.log_text(run_id, "x", "../x.txt")
    other = client.create_run(client.get_run(run_id).info.experiment_id).info.run_id
    assert client.list_artifacts(other) == []  # files belong to their run


def test_files_of_two_runs_with_the_same_content(client: TrackingClient, run_id: str,
                                                 tmp_path: Path) -> None:
    other = client.create_run(client.get_run(run_id).info.experiment_id).info.run_id
    client.log_text(run_id, "same bytes", "a.txt")
    client.log_text(other, "same bytes", "b/a.txt")
    client.log_text(run_id, "changed", "a.txt")
    assert Path(client.download_artifacts(other, "b/a.txt", str(tmp_path))).read_text() == \
        "same bytes"
    assert Path(client.download_artifacts(run_id, "a.txt", str(tmp_path))).read_text() == \
        "changed"


@pytest.mark.parametrize("first, second", [("dir", "dir/a.txt"), ("dir/a.txt", "dir")])
def test_a_path_is_a_file_or_a_directory_not_both(client: TrackingClient, run_id: str,
                                                   tmp_path: Path, first: str,
                                                   second: str) -> None:
    client.log_text(run_id, "first", first)
    with pytest.raises(InvalidParameterError):
        client.log_text(run_id, "second", second)
    [info] = client.list_artifacts(run_id)
    assert info.path == "dir" and info.is_dir == (first != "dir")
    out = Path(client.download_artifacts(run_id, "", str(tmp_path / "out")))
    assert (out / first).read_text() == "first"
