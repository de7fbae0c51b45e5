"""What the SQL compiled from ``search_runs`` filters and ``order_by`` clauses
selects, on a real store (SQLite, or PostgreSQL with FLOWTRACK_TEST_METADATA).

One module-wide store holds twelve runs in two experiments with varied metrics
(including a latest value that differs from the history's extremes, and
infinities), params, tags (wildcard characters, a backslash, quotes, unicode),
statuses, users, a deleted run and runs without end time. Table tests pin each
operator per entity; a hypothesis test then generates random filters (and
orderings) from a small grammar over the same keys and checks the result equals a
pure-Python evaluation of the filter over the runs' data, with SQL's three-valued
logic: a comparison on a missing value is unknown and only IS NULL matches it.
No filter text reaches the SQL. Last, long filters (1000 ANDed terms, 500 ORed ones,
groups nested as deep as allowed) select what that evaluation selects, and deeper
ones are refused naming the limit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect

from flowtrack._config import settings as flowtrack_settings
from flowtrack.lineage import Database
from flowtrack.tracking import (
    InvalidParameterError,
    Metric,
    Param,
    RunStatus,
    SearchSyntaxError,
    TrackingClient,
    ViewType,
)
from tests.conftest import isolated_store
from tests.tracking.conftest import keep_open, reset_fluent_state

INF = float("inf")
T0 = 1_700_000_000_000  # start time of the first run; run i starts at T0 + 1000 * i


@dataclass
class Spec:
    """One run as the tests create it, and what a search must see of it."""

    name: str
    experiment: str  # "a" or "b"
    status: str
    metrics: dict[str, float] = field(default_factory=dict)  # latest values
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    history: list[Metric] = field(default_factory=list)  # earlier points, not latest
    user: str = "tester"
    deleted: bool = False
    # filled in when the run exists
    run_id: str = ""
    experiment_id: str = ""
    start_time: int = 0
    end_time: int | None = None


def _specs() -> list[Spec]:
    return [
        Spec("svm-base", "a", "FINISHED", {"acc": 0.91, "loss": 0.2, "f1 score": 0.5},
             {"model": "svm", "lr": "0.1", "opt": "sgd"},
             {"team": "ml-core", "note": "50% off", "my tag": "yes"},
             history=[Metric("acc", 0.99, 5, 0)]),  # higher, but at an earlier step
        Spec("svm-tuned", "a", "FINISHED", {"acc": 0.95, "loss": 0.1},
             {"model": "SVM", "lr": "0.01"}, {"team": "ML-core", "note": "a_b"}),
        Spec("cnn-1", "a", "FAILED", {"acc": 0.5, "loss": INF},
             {"model": "cnn", "lr": "0.1", "opt": "adam"}, {"team": "vision", "note": "a\\b"}),
        Spec("cnn-2", "a", "RUNNING", {"acc": 0.7}, {"model": "cnn", "opt": "adam"},
             {"team": "vision", "note": "axb"},
             # the latest point is the greatest step (5), not the newest timestamp
             history=[Metric("acc", 0.95, 99_000, 2)]),
        Spec("rf", "a", "KILLED", {"loss": 0.3, "f1 score": 0.8}, {"model": "rf", "lr": ""},
             {"note": "it's", "my tag": "no"}),
        Spec("svm_v2", "a", "FINISHED", {"acc": -1.0, "loss": -INF}, {"model": "svm_v2"},
             {"team": "ml%", "note": "x[1]*?"}),
        Spec("svmXv2", "a", "SCHEDULED", {}, {"model": "svmXv2", "lr": "1e-3"},
             {"team": "ml_core"}, user="alice"),
        Spec("empty", "a", "RUNNING"),
        Spec("deleted-svm", "a", "FINISHED", {"acc": 0.99}, {"model": "svm"},
             {"team": "ml-core"}, deleted=True),
        Spec("b-svm", "b", "FINISHED", {"acc": 0.91, "loss": 0.0}, {"model": "svm", "opt": "SGD"},
             {"team": "Vision"}),
        Spec("b-lr", "b", "FAILED", {"acc": 0.0}, {"lr": "0.1"}, {"team": " ml-core", "note": "%"}),
        Spec("b-unicode", "b", "FINISHED", {"loss": 1e300}, {"model": "ünï"}, {"note": "Été"}),
    ]


@dataclass
class Store:
    runs: list[Spec]
    experiments: dict[str, str]  # "a"/"b" -> experiment id
    metadata_url: str

    def by_name(self, name: str) -> Spec:
        return next(r for r in self.runs if r.name == name)


def _create(client: TrackingClient) -> Store:
    experiments = {"a": client.create_experiment("search-a"),
                   "b": client.create_experiment("search-b")}
    runs = _specs()
    for i, spec in enumerate(runs):
        os.environ["FLOWTRACK_USER"] = spec.user  # create_run records the configured user
        try:
            run = client.create_run(experiments[spec.experiment], start_time=T0 + 1000 * i,
                                    tags=spec.tags, run_name=spec.name)
        finally:
            os.environ["FLOWTRACK_USER"] = "tester"
        spec.run_id, spec.experiment_id = run.info.run_id, experiments[spec.experiment]
        spec.start_time = T0 + 1000 * i
        latest = [Metric(k, v, 10_000 + i, 5) for k, v in spec.metrics.items()]
        client.log_batch(spec.run_id, metrics=[*spec.history, *latest],
                         params=[Param(k, v) for k, v in spec.params.items()])
        if RunStatus.is_terminated(spec.status):
            spec.end_time = spec.start_time + 500
            client.set_terminated(spec.run_id, spec.status, end_time=spec.end_time)
        elif spec.status != RunStatus.RUNNING:
            client.update_run(spec.run_id, status=spec.status)
        if spec.deleted:
            client.delete_run(spec.run_id)
    return Store(runs, experiments, flowtrack_settings().metadata_url)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, _postgres_for_stores: None
          ) -> Iterator[Store]:
    home = Path(tmp_path_factory.mktemp("search")) / "ft-home"
    with isolated_store(home):
        url = flowtrack_settings().metadata_url
        keep_open.add(url)  # one connection pool for the module's tests
        try:
            yield _create(TrackingClient())
        finally:
            keep_open.discard(url)
            reset_fluent_state(dispose_all=True)


def search(store: Store, filter_string: str = "", view: int = ViewType.ALL,
           order_by: Sequence[str] | None = None, experiments: Sequence[str] = ("a", "b"),
           max_results: int = 1000) -> list[str]:
    """Names of the runs the search returns, in its order."""
    found = TrackingClient().search_runs([store.experiments[e] for e in experiments],
                                         filter_string, view, max_results, order_by)
    by_id = {r.run_id: r.name for r in store.runs}
    return [by_id[r.info.run_id] for r in found]


def names(store: Store, filter_string: str, view: int = ViewType.ALL) -> set[str]:
    return set(search(store, filter_string, view))


def test_the_store_holds_what_the_specs_say(store: Store) -> None:
    client = TrackingClient()
    for spec in store.runs:
        run = client.get_run(spec.run_id)
        assert run.data.metrics == spec.metrics, spec.name
        assert run.data.params == spec.params, spec.name
        assert {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")} == \
            spec.tags, spec.name
        assert run.info.status == spec.status and run.info.user_id == spec.user
        assert run.info.start_time == spec.start_time and run.info.end_time == spec.end_time
        assert run.info.lifecycle_stage == ("deleted" if spec.deleted else "active")
        assert run.info.experiment_id == spec.experiment_id
    assert len(search(store)) == 12
    assert len(search(store, view=ViewType.ACTIVE_ONLY)) == 11


# -- metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize("filter_string, expected", [
    ("metrics.acc > 0.9", {"svm-base", "svm-tuned", "deleted-svm", "b-svm"}),
    ("metrics.acc = 0.91", {"svm-base", "b-svm"}),
    ("metrics.acc != 0.91", {"svm-tuned", "cnn-1", "cnn-2", "svm_v2", "deleted-svm", "b-lr"}),
    ("metrics.acc < 0.5", {"svm_v2", "b-lr"}),
    ("metrics.acc <= 0.5", {"svm_v2", "b-lr", "cnn-1"}),
    ("metrics.acc >= 0.95", {"svm-tuned", "deleted-svm"}),
    ("metrics.acc >= -1", {"svm-base", "svm-tuned", "cnn-1", "cnn-2", "svm_v2", "deleted-svm",
                           "b-svm", "b-lr"}),
    # the latest value counts, not an earlier (higher) point
    ("metrics.acc = 0.99", {"deleted-svm"}),
    ("metrics.acc = 0.95", {"svm-tuned"}),
    ("metrics.acc = 0.7", {"cnn-2"}),
    # infinities compare as numbers
    ("metrics.loss > 1e308", {"cnn-1"}),
    ("metrics.loss < -1e308", {"svm_v2"}),
    ("metrics.loss >= 1e300", {"cnn-1", "b-unicode"}),
    ("metrics.loss = 0", {"b-svm"}),
    ("metrics.`f1 score` >= 0.5", {"svm-base", "rf"}),
    ('metrics."f1 score" < 0.6', {"svm-base"}),
    ("metric.acc > 0.9 and metrics.loss < 0.15", {"svm-tuned", "b-svm"}),
    ("metrics.acc > -2 AND metrics.loss < 0.25", {"svm-base", "svm-tuned", "svm_v2", "b-svm"}),
    ("metrics.missing > 0", set()),
    ("metrics.acc > 5", set()),
])
def test_metric_comparisons(store: Store, filter_string: str, expected: set[str]) -> None:
    assert names(store, filter_string) == expected


# -- params and tags ------------------------------------------------------------------------


@pytest.mark.parametrize("filter_string, expected", [
    ("params.model = 'svm'", {"svm-base", "deleted-svm", "b-svm"}),
    ("params.model != 'svm'", {"svm-tuned", "cnn-1", "cnn-2", "rf", "svm_v2", "svmXv2",
                               "b-unicode"}),
    ("params.model = 'SVM'", {"svm-tuned"}),
    ("params.model = 'ünï'", {"b-unicode"}),
    ("params.model IN ('cnn', 'rf')", {"cnn-1", "cnn-2", "rf"}),
    ("params.model IN ('nothing')", set()),
    ("params.model NOT IN ('cnn', 'rf', 'svm')", {"svm-tuned", "svm_v2", "svmXv2", "b-unicode"}),
    ("params.lr IS NULL", {"cnn-2", "svm_v2", "empty", "deleted-svm", "b-svm", "b-unicode"}),
    ("params.lr IS NOT NULL", {"svm-base", "svm-tuned", "cnn-1", "rf", "svmXv2", "b-lr"}),
    ("params.lr = ''", {"rf"}),  # an empty value is a value
    ("params.lr = '0.1'", {"svm-base", "cnn-1", "b-lr"}),
    ("params.`lr` = \"0.01\"", {"svm-tuned"}),
    ("param.opt = 'adam'", {"cnn-1", "cnn-2"}),
    ("params.missing = 'x'", set()),
    ("params.missing IS NULL", {s.name for s in _specs()}),
    ("tags.team = 'vision'", {"cnn-1", "cnn-2"}),
    ("tags.team IN ('vision', 'Vision')", {"cnn-1", "cnn-2", "b-svm"}),
    ("tags.team != 'ml-core'", {"svm-tuned", "cnn-1", "cnn-2", "svm_v2", "svmXv2", "b-svm",
                                "b-lr"}),
    ("tags.team NOT IN ('ml-core', 'vision')", {"svm-tuned", "svm_v2", "svmXv2", "b-svm",
                                                "b-lr"}),
    ("tags.note = 'it''s'", {"rf"}),
    ("tags.note = \"it's\"", {"rf"}),
    ("tags.`my tag` = 'yes'", {"svm-base"}),
    ('tags."my tag" IS NOT NULL', {"svm-base", "rf"}),
    ("tags.mlflow.runName = 'rf'", {"rf"}),
    ("tags.`mlflow.runName` IN ('rf', 'empty')", {"rf", "empty"}),
    ("tag.note IS NULL", {"svmXv2", "empty", "deleted-svm", "b-svm"}),
])
def test_param_and_tag_comparisons(store: Store, filter_string: str, expected: set[str]) -> None:
    assert names(store, filter_string) == expected


@pytest.mark.parametrize("filter_string, expected", [
    # LIKE is case-sensitive, ILIKE is not
    ("params.model LIKE 'svm%'", {"svm-base", "svm_v2", "svmXv2", "deleted-svm", "b-svm"}),
    ("params.model ILIKE 'svm%'", {"svm-base", "svm-tuned", "svm_v2", "svmXv2", "deleted-svm",
                                   "b-svm"}),
    ("params.model LIKE 'SVM'", {"svm-tuned"}),
    ("params.model ILIKE 'SVM'", {"svm-base", "svm-tuned", "deleted-svm", "b-svm"}),
    ("params.opt ILIKE 'sgd'", {"svm-base", "b-svm"}),
    ("tags.team LIKE 'ml%'", {"svm-base", "svm_v2", "svmXv2", "deleted-svm"}),
    ("tags.team ILIKE 'ml%'", {"svm-base", "svm-tuned", "svm_v2", "svmXv2", "deleted-svm"}),
    ("tags.team LIKE '%core'", {"svm-base", "svm-tuned", "svmXv2", "deleted-svm", "b-lr"}),
    ("tags.team LIKE '%ml-core'", {"svm-base", "deleted-svm", "b-lr"}),
    # _ is one character (any), % any run of characters
    ("params.model LIKE 'svm_v2'", {"svm_v2", "svmXv2"}),
    ("params.model = 'svm_v2'", {"svm_v2"}),
    ("params.model LIKE 'sv_'", {"svm-base", "deleted-svm", "b-svm"}),
    ("params.model LIKE '___'", {"svm-base", "svm-tuned", "cnn-1", "cnn-2", "deleted-svm",
                                 "b-svm", "b-unicode"}),
    ("params.model LIKE '_'", set()),
    ("params.lr LIKE '%'", {"svm-base", "svm-tuned", "cnn-1", "rf", "svmXv2", "b-lr"}),
    ("tags.team LIKE 'ml_core'", {"svm-base", "svmXv2", "deleted-svm"}),
    ("tags.note LIKE '50%'", {"svm-base"}),
    ("tags.note LIKE '%\\%'", {"cnn-1"}),  # a backslash is an ordinary character
    ("tags.note LIKE 'a\\b'", {"cnn-1"}),
    ("tags.note LIKE 'a_b'", {"svm-tuned", "cnn-1", "cnn-2"}),
    ("tags.note = 'a_b'", {"svm-tuned"}),
    ("tags.note = 'a\\b'", {"cnn-1"}),
    ("tags.note ILIKE 'A\\B'", {"cnn-1"}),
    # no other wildcard or escape syntax: GLOB's * ? [ ] and regex characters are literal
    ("tags.note LIKE 'x[1]*?'", {"svm_v2"}),
    ("tags.note LIKE 'x[1]%'", {"svm_v2"}),
    ("tags.note LIKE '%*%'", {"svm_v2"}),
    ("tags.note LIKE '*'", set()),
    ("tags.note LIKE '?'", set()),
    ("tags.note LIKE '[ax]%'", set()),
    ("tags.note ILIKE '[AX]%'", set()),
    ("tags.note LIKE 'a.b'", set()),
    ("tags.note LIKE '.*'", set()),
    ("tags.note LIKE '%'", {"svm-base", "svm-tuned", "cnn-1", "cnn-2", "rf", "svm_v2", "b-lr",
                            "b-unicode"}),
    ("tags.note LIKE '%''%'", {"rf"}),
    ("tags.note LIKE 'Été'", {"b-unicode"}),
    ("tags.note LIKE 'é%'", set()),
    ("tags.note LIKE '_t_'", {"b-unicode"}),  # _ is one character, not one byte
    ("tags.note LIKE ''", set()),
    ("params.lr LIKE ''", {"rf"}),
])
def test_like_and_ilike(store: Store, filter_string: str, expected: set[str]) -> None:
    assert names(store, filter_string) == expected


def test_ilike_folds_non_ascii_case(store: Store) -> None:
    """ILIKE folds Unicode case on SQLite too (its lower() folds ASCII only)."""
    assert names(store, "tags.note ILIKE 'ÉTÉ'") == {"b-unicode"}
    assert names(store, "params.model ILIKE 'ÜNÏ'") == {"b-unicode"}


# -- attributes ------------------------------------------------------------------------------

FINISHED = {"svm-base", "svm-tuned", "svm_v2", "deleted-svm", "b-svm", "b-unicode"}
ALL_NAMES = {s.name for s in _specs()}


@pytest.mark.parametrize("filter_string, expected", [
    ("attributes.status = 'FINISHED'", FINISHED),
    ("status = 'FINISHED'", FINISHED),
    ("attributes.status != 'FINISHED'", ALL_NAMES - FINISHED),
    ("attributes.status = 'finished'", set()),
    ("attributes.status IN ('FAILED', 'KILLED')", {"cnn-1", "rf", "b-lr"}),
    ("attributes.status NOT IN ('FINISHED', 'FAILED', 'KILLED')", {"cnn-2", "svmXv2", "empty"}),
    ("attributes.status LIKE 'FIN%'", FINISHED),
    ("attributes.status LIKE 'fin%'", set()),
    ("attributes.status ILIKE 'fin%'", FINISHED),
    ("attributes.status = 'SCHEDULED'", {"svmXv2"}),
    ("attributes.run_name = 'rf'", {"rf"}),
    ("run_name LIKE 'svm%'", {"svm-base", "svm-tuned", "svm_v2", "svmXv2"}),
    ("attributes.`run name` ILIKE 'B-%'", {"b-svm", "b-lr", "b-unicode"}),
    ("attributes.run_name IN ('empty', 'nope')", {"empty"}),
    ("attributes.user_id = 'alice'", {"svmXv2"}),
    ("attributes.user_id != 'alice'", ALL_NAMES - {"svmXv2"}),
    ("attributes.user_id LIKE 'test%'", ALL_NAMES - {"svmXv2"}),
    (f"attributes.start_time >= {T0 + 9000}", {"b-svm", "b-lr", "b-unicode"}),
    (f"attributes.start_time < {T0 + 2000}", {"svm-base", "svm-tuned"}),
    (f"attributes.start_time = {T0 + 4000}", {"rf"}),
    (f"attributes.start_time != {T0 + 4000}", ALL_NAMES - {"rf"}),
    (f"attributes.created > {T0 + 10000}", {"b-unicode"}),
    (f"attributes.start_time > {T0}.5", ALL_NAMES - {"svm-base"}),
    ("attributes.end_time > 0", ALL_NAMES - {"cnn-2", "svmXv2", "empty"}),
    (f"attributes.end_time <= {T0 + 1500}", {"svm-base", "svm-tuned"}),
    ("attributes.lifecycle_stage = 'deleted'", {"deleted-svm"}),
    ("attributes.lifecycle_stage = 'active'", ALL_NAMES - {"deleted-svm"}),
    ("attributes.lifecycle_stage != 'active'", {"deleted-svm"}),
    ("attributes.lifecycle_stage IN ('deleted', 'other')", {"deleted-svm"}),
    ("attributes.lifecycle_stage NOT IN ('deleted')", ALL_NAMES - {"deleted-svm"}),
    ("attributes.lifecycle_stage = 'DELETED'", set()),
])
def test_attribute_comparisons(store: Store, filter_string: str, expected: set[str]) -> None:
    assert names(store, filter_string) == expected


def test_run_id_comparisons(store: Store) -> None:
    one, two = store.by_name("svm-base").run_id, store.by_name("cnn-1").run_id
    assert names(store, f"attributes.run_id = '{one}'") == {"svm-base"}
    assert names(store, f"attributes.run_id IN ('{one}', '{two}', 'nope')") == {"svm-base",
                                                                                 "cnn-1"}
    assert names(store, f"run_id NOT IN ('{one}', '{two}')") == ALL_NAMES - {"svm-base",
                                                                              "cnn-1"}
    assert names(store, f"attributes.run_id != '{one}'") == ALL_NAMES - {"svm-base"}
    assert names(store, f"attributes.run_id LIKE '{one[:6]}%'") == {"svm-base"}
    assert names(store, f"attributes.run_id = '{one.upper()}'") == set()


def test_experiment_id_comparisons(store: Store) -> None:
    a, b = store.experiments["a"], store.experiments["b"]
    b_runs = {"b-svm", "b-lr", "b-unicode"}
    assert names(store, f"attributes.experiment_id = '{b}'") == b_runs
    assert names(store, f"attributes.experiment_id != '{a}'") == b_runs
    assert names(store, f"attributes.experiment_id IN ('{a}')") == ALL_NAMES - b_runs
    assert names(store, f"attributes.experiment_id IN ('{a}', '{b}')") == ALL_NAMES
    assert names(store, f"attributes.experiment_id NOT IN ('{a}', '{b}')") == set()
    assert names(store, "attributes.experiment_id = '987654'") == set()
    for bad in ("attributes.experiment_id = 'abc'", f"attributes.experiment_id LIKE '{a}%'",
                "attributes.experiment_id IN ('1', 'x')"):
        with pytest.raises(InvalidParameterError):
            search(store, bad)


def test_lifecycle_stage_and_view_type_combine(store: Store) -> None:
    deleted = "attributes.lifecycle_stage = 'deleted'"
    assert search(store, deleted, ViewType.ACTIVE_ONLY) == []
    assert search(store, deleted, ViewType.DELETED_ONLY) == ["deleted-svm"]
    assert search(store, "", ViewType.DELETED_ONLY) == ["deleted-svm"]
    assert names(store, "params.model = 'svm'", ViewType.ACTIVE_ONLY) == {"svm-base", "b-svm"}


def test_experiment_scope(store: Store) -> None:
    assert names_in(store, "params.model = 'svm'", ["b"]) == {"b-svm"}
    assert names_in(store, "params.model = 'svm'", ["a"]) == {"svm-base", "deleted-svm"}


def names_in(store: Store, filter_string: str, experiments: list[str]) -> set[str]:
    return set(search(store, filter_string, experiments=experiments))


def test_lifecycle_stage_like_is_case_sensitive(store: Store) -> None:
    """LIKE on lifecycle_stage is case-sensitive on SQLite too."""
    assert names(store, "attributes.lifecycle_stage LIKE 'ACT%'") == set()
    assert names(store, "attributes.lifecycle_stage LIKE 'del%'") == {"deleted-svm"}


def test_experiment_id_zero_in_a_filter_is_the_default_experiment(store: Store) -> None:
    """'0' means the Default experiment in a filter as in experiment_ids."""
    client = TrackingClient()
    run = client.create_run("0", run_name="in-default")
    try:
        found = client.search_runs(["0"], "attributes.experiment_id = '0'")
        assert [r.info.run_id for r in found] == [run.info.run_id]
    finally:
        client.delete_run(run.info.run_id)


def test_what_get_run_reports_search_finds(store: Store) -> None:
    """Every tag, param and latest metric a run reports (system tags included) is
    what a filter on it sees."""
    client = TrackingClient()
    for spec in store.runs:
        data = client.get_run(spec.run_id).data
        checks = [f"tags.`{k}` = '{v.replace(chr(39), chr(39) * 2)}'"
                  for k, v in data.tags.items()]
        checks += [f"params.`{k}` = '{v.replace(chr(39), chr(39) * 2)}'"
                   for k, v in data.params.items()]
        checks += [f"metrics.`{k}` = {v!r}" for k, v in data.metrics.items()
                   if abs(v) != INF]
        for check in checks:
            assert spec.name in names(store, check), check


def test_unsupported_searches_are_refused(store: Store) -> None:
    for bad in ("attributes.artifact_uri = 'x'", "datasets.name = 'mnist'"):
        with pytest.raises(InvalidParameterError):
            search(store, bad)


# -- OR, NOT, parentheses ------------------------------------------------------------------


@pytest.mark.parametrize("filter_string, expected", [
    ("params.model = 'cnn' OR tags.team = 'Vision'", {"cnn-1", "cnn-2", "b-svm"}),
    ("params.model = 'svm' and (metrics.acc > 0.95 or attributes.run_name = 'b-svm')",
     {"deleted-svm", "b-svm"}),
    # AND binds tighter than OR
    ("params.model = 'svm' AND metrics.acc > 0.95 OR attributes.run_name = 'rf'",
     {"deleted-svm", "rf"}),
    ("params.model = 'svm' AND (metrics.acc > 0.95 OR attributes.run_name = 'rf')",
     {"deleted-svm"}),
    ("attributes.run_name = 'rf' OR params.model = 'svm' AND metrics.acc > 0.95",
     {"deleted-svm", "rf"}),
    ("(attributes.run_name = 'rf' OR params.model = 'svm') AND metrics.acc > 0.95",
     {"deleted-svm"}),
    ("NOT attributes.status = 'FINISHED'", ALL_NAMES - FINISHED),
    ("NOT (attributes.status = 'FINISHED' OR attributes.status = 'RUNNING')",
     {"cnn-1", "rf", "svmXv2", "b-lr"}),
    ("NOT NOT attributes.run_name = 'rf'", {"rf"}),
    ("not (not (attributes.run_name = 'rf'))", {"rf"}),
    ("NOT attributes.status IN ('FINISHED', 'RUNNING', 'FAILED')", {"rf", "svmXv2"}),
    ("((((attributes.run_name = 'rf'))))", {"rf"}),
    # a comparison on a missing value is unknown: NOT of it is unknown too (SQL's logic)
    ("NOT params.model = 'svm'", {"svm-tuned", "cnn-1", "cnn-2", "rf", "svm_v2", "svmXv2",
                                  "b-unicode"}),
    ("NOT metrics.acc > 0.9", {"cnn-1", "cnn-2", "svm_v2", "b-lr"}),
    ("params.lr IS NULL OR NOT params.lr = '0.1'",
     {"cnn-2", "svm_v2", "empty", "deleted-svm", "b-svm", "b-unicode", "svm-tuned", "rf",
      "svmXv2"}),
    ("metrics.acc > 0.9 OR metrics.acc <= 0.9", {"svm-base", "svm-tuned", "cnn-1", "cnn-2",
                                                 "svm_v2", "deleted-svm", "b-svm", "b-lr"}),
])
def test_boolean_structure(store: Store, filter_string: str, expected: set[str]) -> None:
    assert names(store, filter_string) == expected


def test_negated_like(store: Store) -> None:
    """NOT over a case-sensitive LIKE compiles without SQLAlchemy's deprecation
    warning (SQLite's GLOB operator must be declared a comparison)."""
    assert names(store, "NOT tags.note LIKE 'a%'") == {"svm-base", "rf", "svm_v2", "b-lr",
                                                       "b-unicode"}
    assert names(store, "NOT attributes.run_name LIKE 'svm%'") == ALL_NAMES - {
        "svm-base", "svm-tuned", "svm_v2", "svmXv2"}


def test_negated_not_in_is_in(store: Store) -> None:
    """NOT (x NOT IN L) is x IN L: neither matches runs without x."""
    expected = {"svm-base", "cnn-1", "b-lr"}
    assert names(store, "params.lr IN ('0.1')") == expected
    assert names(store, "NOT NOT params.lr IN ('0.1')") == expected
    assert names(store, "NOT (params.lr NOT IN ('0.1'))") == expected


# -- order_by --------------------------------------------------------------------------------


@pytest.mark.parametrize("order_by, expected", [
    # missing values last either way; ties newest first
    (["metrics.acc DESC"], ["deleted-svm", "svm-tuned", "b-svm", "svm-base", "cnn-2", "cnn-1",
                            "b-lr", "svm_v2", "b-unicode", "empty", "svmXv2", "rf"]),
    (["metrics.acc ASC"], ["svm_v2", "b-lr", "cnn-1", "cnn-2", "b-svm", "svm-base", "svm-tuned",
                           "deleted-svm", "b-unicode", "empty", "svmXv2", "rf"]),
    (["metrics.acc"], ["svm_v2", "b-lr", "cnn-1", "cnn-2", "b-svm", "svm-base", "svm-tuned",
                       "deleted-svm", "b-unicode", "empty", "svmXv2", "rf"]),
    (["metrics.loss ASC"], ["svm_v2", "b-svm", "svm-tuned", "svm-base", "rf", "b-unicode",
                            "cnn-1", "b-lr", "deleted-svm", "empty", "svmXv2", "cnn-2"]),
    (["metrics.loss DESC"], ["cnn-1", "b-unicode", "rf", "svm-base", "svm-tuned", "b-svm",
                             "svm_v2", "b-lr", "deleted-svm", "empty", "svmXv2", "cnn-2"]),
    (["params.lr DESC"], ["svmXv2", "b-lr", "cnn-1", "svm-base", "svm-tuned", "rf",
                          "b-unicode", "b-svm", "deleted-svm", "empty", "svm_v2", "cnn-2"]),
    (["attributes.status ASC", "metrics.acc DESC"],
     ["cnn-1", "b-lr", "deleted-svm", "svm-tuned", "b-svm", "svm-base", "svm_v2", "b-unicode",
      "rf", "cnn-2", "empty", "svmXv2"]),
    (["attributes.start_time ASC"], [s.name for s in _specs()]),
    (["start_time DESC"], [s.name for s in _specs()][::-1]),
    ([], [s.name for s in _specs()][::-1]),  # MLflow's default: newest first
    (["attributes.end_time DESC"], ["b-unicode", "b-lr", "b-svm", "deleted-svm", "svm_v2", "rf",
                                    "cnn-1", "svm-tuned", "svm-base", "empty", "svmXv2",
                                    "cnn-2"]),
    (["metrics.`f1 score` DESC", "attributes.start_time ASC"],
     ["rf", "svm-base", "svm-tuned", "cnn-1", "cnn-2", "svm_v2", "svmXv2", "empty",
      "deleted-svm", "b-svm", "b-lr", "b-unicode"]),
])
def test_order_by(store: Store, order_by: list[str], expected: list[str]) -> None:
    assert search(store, order_by=order_by) == expected


def test_order_by_with_filter_and_limit(store: Store) -> None:
    assert search(store, "params.model LIKE 'svm%'", order_by=["metrics.acc DESC"],
                  max_results=3) == ["deleted-svm", "b-svm", "svm-base"]
    assert search(store, "", ViewType.ACTIVE_ONLY, order_by=["metrics.acc DESC"],
                  max_results=2) == ["svm-tuned", "b-svm"]


@pytest.mark.parametrize("order_by", [["attributes.lifecycle_stage"], ["attributes.experiment_id"],
                                      ["datasets.name"], ["metrics.acc SIDEWAYS"], ["nonsense"],
                                      ["metrics.acc DESC extra"], [""]])
def test_invalid_order_by(store: Store, order_by: list[str]) -> None:
    with pytest.raises(InvalidParameterError):
        search(store, order_by=order_by)


def test_syntax_errors_name_the_position(store: Store) -> None:
    with pytest.raises(SearchSyntaxError, match="position 14") as caught:
        search(store, "metrics.acc > 'high'")
    assert caught.value.position == 14
    with pytest.raises(SearchSyntaxError):
        search(store, "params.model = 'svm' AND")


# -- SQL injection -----------------------------------------------------------------------------

INJECTIONS = [
    "params.model = 'x'' OR 1=1 --'",
    "params.model = 'svm''; DROP TABLE contexts; --'",
    "params.model LIKE '%'' OR ''1''=''1'",
    "params.model IN ('x'') OR (1=1', 'y')",
    "params.model ILIKE 'x'' OR 1=1) --'",
    "tags.`team'; DROP TABLE latest_metrics; --` = 'x'",
    "tags.`x') OR 1=1 --` IS NOT NULL",
    "metrics.`acc) OR 1=1 --` > 0",
    "attributes.run_name = '\" OR \"\"=\"'",
    "attributes.run_id IN ('x'')); DELETE FROM context_properties; --')",
    "attributes.status LIKE '%''; UPDATE context_properties SET string_value=''x''; --'",
    "params.`model\" = 'svm' OR \"1` = '1'",
]


@pytest.mark.parametrize("filter_string", INJECTIONS)
def test_no_filter_injects_sql(store: Store, filter_string: str) -> None:
    assert search(store, filter_string) == []
    assert names(store, f"({filter_string}) OR attributes.run_name = 'rf'") == {"rf"}


def test_tables_survive_injection_attempts(store: Store) -> None:
    for filter_string in INJECTIONS:
        search(store, filter_string)
    db = Database.open(store.metadata_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"contexts", "context_properties", "latest_metrics", "metrics"} <= tables
    assert len(search(store)) == 12
    test_the_store_holds_what_the_specs_say(store)


# -- property: the SQL agrees with a Python evaluation of the filter --------------------------

METRIC_KEYS = ("acc", "loss", "f1 score")
PARAM_KEYS = ("model", "lr", "opt", "missing")
TAG_KEYS = ("team", "note", "my tag", "mlflow.runName")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
EXTRA_STRINGS = ("", "svm", "SVM", "nope", "it's", "%", "_", "a\\b", "ML-CORE", "FINISHED",
                 "ÉTÉ", "ÜNÏ")


@dataclass(frozen=True)
class Cmp:
    entity: str
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class Bool:
    op: str  # AND, OR, NOT
    parts: tuple[Any, ...]


def _value(spec: Spec, entity: str, key: str) -> Any:
    if entity == "metrics":
        return spec.metrics.get(key)
    if entity == "params":
        return spec.params.get(key)
    if entity == "tags":
        return {**spec.tags, "mlflow.runName": spec.name}.get(key)
    return {"run_id": spec.run_id, "run_name": spec.name, "status": spec.status,
            "user_id": spec.user, "start_time": spec.start_time, "end_time": spec.end_time,
            "lifecycle_stage": "deleted" if spec.deleted else "active",
            "experiment_id": spec.experiment_id}[key]


def _like(value: str, pattern: str, fold: bool) -> bool:
    """MLflow's LIKE: % any run, _ one character, everything else literal; ILIKE folds
    case."""
    if fold:
        value, pattern = value.lower(), pattern.lower()
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def evaluate(node: Any, spec: Spec) -> bool | None:
    """The filter's truth value for one run in SQL's three-valued logic (None: unknown)."""
    if isinstance(node, Bool):
        values = [evaluate(p, spec) for p in node.parts]
        if node.op == "NOT":
            return None if values[0] is None else not values[0]
        decisive = node.op == "OR"  # True decides an OR, False an AND
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    value = _value(spec, node.entity, node.key)
    if node.op == "IS NULL":
        return value is None
    if node.op == "IS NOT NULL":
        return value is not None
    if value is None:
        return None  # unknown, whatever the operator
    if node.op == "IN":
        return value in node.value
    if node.op == "NOT IN":
        return value not in node.value
    if node.op in ("LIKE", "ILIKE"):
        return _like(value, node.value, node.op == "ILIKE")
    return {"=": value == node.value, "!=": value != node.value, "<": value < node.value,
            "<=": value <= node.value, ">": value > node.value,
            ">=": value >= node.value}[node.op]


def _quote_key(key: str, draw: Callable[[Any], Any]) -> str:
    bare = re.fullmatch(r"[A-Za-z_][\w.\-/:]*", key) is not None
    if bare and draw(st.booleans()):
        return key
    return draw(st.sampled_from(["`{}`", '"{}"'])).format(key) if bare or " " in key \
        else f"`{key}`"


def _string(value: str, draw: Callable[[Any], Any]) -> str:
    quote = draw(st.sampled_from(["'", '"']))
    return quote + value.replace(quote, quote * 2) + quote


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") and abs(value) < 1e15 else text


def render(node: Any, draw: Callable[[Any], Any]) -> str:
    if isinstance(node, Bool):
        if node.op == "NOT":
            return f"{draw(st.sampled_from(['NOT', 'not', 'Not']))} ({render(node.parts[0], draw)})"
        joiner = draw(st.sampled_from([node.op, node.op.lower()]))
        return f" {joiner} ".join(f"({render(p, draw)})" for p in node.parts)
    if node.entity == "attributes":
        prefix = draw(st.sampled_from(["attributes.", "attribute.", "attr.", "run.", ""]))
        ident = prefix + node.key
    else:
        ident = f"{node.entity}.{_quote_key(node.key, draw)}"
    if node.op in ("IS NULL", "IS NOT NULL"):
        return f"{ident} {draw(st.sampled_from([node.op, node.op.lower()]))}"
    if node.op in ("IN", "NOT IN"):
        items = ", ".join(_string(v, draw) for v in node.value)
        return f"{ident} {draw(st.sampled_from([node.op, node.op.lower()]))} ({items})"
    if isinstance(node.value, str):
        value = _string(node.value, draw)
    else:
        value = _number(node.value)
    op = draw(st.sampled_from([node.op, node.op.lower()]))
    return f"{ident} {op} {value}"


def _pattern_of(value: str, draw: Callable[[Any], Any]) -> str:
    """A LIKE pattern built from ``value``: some characters replaced by wildcards or
    changed in case, maybe a % either side."""
    out = []
    for char in value:
        action = draw(st.sampled_from(["keep", "keep", "keep", "%", "_", "case", "drop"]))
        out.append({"keep": char, "%": "%", "_": "_", "case": char.swapcase(),
                    "drop": ""}[action])
    pattern = "".join(out)
    if draw(st.booleans()):
        pattern = "%" + pattern
    if draw(st.booleans()):
        pattern += "%"
    return pattern


def comparisons(store: Store) -> st.SearchStrategy[Cmp]:
    runs = store.runs

    def present(entity: str, key: str) -> list[str]:
        return sorted({_value(r, entity, key) for r in runs} - {None})

    def strings_of(entity: str, key: str) -> st.SearchStrategy[str]:
        """Mostly the key's own values (so comparisons hit), sometimes others."""
        own = present(entity, key) or list(EXTRA_STRINGS)
        return st.one_of(st.sampled_from(own), st.sampled_from(own),
                         st.sampled_from(EXTRA_STRINGS))

    @st.composite
    def string_comparison(draw: Callable[[Any], Any], entity: str, keys: Sequence[str],
                          nullable: bool = True) -> Cmp:
        key = draw(st.sampled_from(list(keys)))
        op = draw(st.sampled_from(list(STRING_OPS)
                                  + (["IS NULL", "IS NOT NULL"] if nullable else [])))
        values = strings_of(entity, key)
        if op in ("IS NULL", "IS NOT NULL"):
            return Cmp(entity, key, op, None)
        if op in ("IN", "NOT IN"):
            return Cmp(entity, key, op, tuple(draw(st.lists(values, min_size=1, max_size=3))))
        if "LIKE" in op:
            kind = draw(st.sampled_from(["value", "derived", "derived", "random"]))
            if kind == "value":
                pattern = draw(values)
            elif kind == "derived":
                pattern = _pattern_of(draw(values), draw)
            else:
                pattern = draw(st.text(alphabet="svmSVMcnlx%_\\*[]?'ab1-e.", max_size=6))
            return Cmp(entity, key, op, pattern)
        return Cmp(entity, key, op, draw(values))

    @st.composite
    def metric_comparison(draw: Callable[[Any], Any]) -> Cmp:
        key = draw(st.sampled_from(METRIC_KEYS))
        own = sorted({r.metrics[key] for r in runs if key in r.metrics} - {INF, -INF})
        value = draw(st.one_of(st.sampled_from(own), st.sampled_from(own),
                               st.sampled_from([1e308, -1e308, 0.6, -0.5, 2.0]),
                               st.floats(-2, 2, allow_nan=False)))
        return Cmp("metrics", key, draw(st.sampled_from(NUMERIC_OPS)), value)

    @st.composite
    def time_comparison(draw: Callable[[Any], Any]) -> Cmp:
        key = draw(st.sampled_from(["start_time", "end_time"]))
        base = draw(st.sampled_from([r.start_time for r in runs] + [r.end_time or 0 for r in runs]))
        value = base + draw(st.sampled_from([-1, 0, 0, 1, 250]))
        return Cmp("attributes", key, draw(st.sampled_from(NUMERIC_OPS)), value)

    @st.composite
    def id_comparison(draw: Callable[[Any], Any]) -> Cmp:
        if draw(st.booleans()):
            ids = [r.run_id for r in runs] + ["0" * 32]
            key, ops = "run_id", STRING_OPS
        else:
            ids = [*store.experiments.values(), "987654", "0"]
            key, ops = "experiment_id", ("=", "!=", "IN", "NOT IN")
        op = draw(st.sampled_from(list(ops)))
        if op in ("IN", "NOT IN"):
            return Cmp("attributes", key, op, tuple(draw(st.lists(st.sampled_from(ids),
                                                                  min_size=1, max_size=3))))
        if "LIKE" in op:
            return Cmp("attributes", key, op, draw(st.sampled_from(ids))[:4] + "%")
        return Cmp("attributes", key, op, draw(st.sampled_from(ids)))

    return st.one_of(
        metric_comparison(),
        string_comparison("params", PARAM_KEYS),
        string_comparison("tags", TAG_KEYS),
        string_comparison("attributes", ["status", "run_name", "user_id"], nullable=False),
        string_comparison("attributes", ["lifecycle_stage"], nullable=False),
        time_comparison(),
        id_comparison(),
    )


_FILTERS: dict[int, st.SearchStrategy[Any]] = {}


def filters(store: Store) -> st.SearchStrategy[Any]:
    """Filter trees over the store's keys and values (built once per store)."""
    if id(store) not in _FILTERS:
        _FILTERS[id(store)] = _filters(store)
    return _FILTERS[id(store)]


def _filters(store: Store) -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda ps: Bool("AND", tuple(ps))),
            st.lists(children, min_size=2, max_size=3).map(lambda ps: Bool("OR", tuple(ps))),
            children.map(lambda p: Bool("NOT", (p,))))

    return st.recursive(comparisons(store), extend, max_leaves=6)


ORDERINGS = [None, ("metrics", "acc"), ("metrics", "loss"), ("metrics", "f1 score"),
             ("attributes", "start_time"), ("attributes", "end_time")]


def expected_order(runs: list[Spec], ordering: tuple[str, str] | None, ascending: bool
                   ) -> list[str]:
    ordered = sorted(runs, key=lambda r: r.run_id)
    if ordering != ("attributes", "start_time"):
        ordered.sort(key=lambda r: r.start_time, reverse=True)
    if ordering is not None:
        def key(r: Spec) -> tuple[bool, float]:
            value = _value(r, *ordering)
            return (value is None, 0.0 if value is None else
                    (value if ascending else -value))
        ordered.sort(key=key)
    return [r.name for r in ordered]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_search_agrees_with_a_python_evaluation(store: Store, data: st.DataObject) -> None:
    tree = data.draw(filters(store), label="filter")
    text = render(tree, data.draw)
    view = data.draw(st.sampled_from([ViewType.ALL, ViewType.ALL, ViewType.ACTIVE_ONLY,
                                      ViewType.DELETED_ONLY]))
    scope = data.draw(st.sampled_from([("a", "b"), ("a",), ("b",)]))
    ordering = data.draw(st.sampled_from(ORDERINGS))
    ascending = data.draw(st.booleans())
    order_by = None if ordering is None else [
        f"{ordering[0]}.`{ordering[1]}` {'ASC' if ascending else 'DESC'}"]
    stages = {ViewType.ALL: (False, True), ViewType.ACTIVE_ONLY: (False,),
              ViewType.DELETED_ONLY: (True,)}[view]
    matching = [r for r in store.runs if r.experiment in scope and r.deleted in stages
                and evaluate(tree, r) is True]
    got = search(store, text, view, order_by, scope)
    assert got == expected_order(matching, ordering, ascending), text


LIKE_KEYS = [("params", "model"), ("params", "lr"), ("params", "opt"), ("tags", "team"),
             ("tags", "note"), ("tags", "mlflow.runName"), ("attributes", "run_name"),
             ("attributes", "status"), ("attributes", "lifecycle_stage")]


@st.composite
def _like_comparison(draw: Callable[[Any], Any], runs: list[Spec]) -> Cmp:
    """One LIKE or ILIKE on a (key, value) some run has, with a pattern made from that
    value; the tricky values (GLOB's special characters, a backslash, non-ASCII
    letters) are drawn five times as often as the others."""
    triples = sorted({(entity, key, value) for entity, key in LIKE_KEYS for r in runs
                      if (value := _value(r, entity, key)) is not None})
    tricky = [t for t in triples if not t[2].isascii() or set(t[2]) & set("[]*?\\")]
    entity, key, value = draw(st.sampled_from(triples + tricky * 4))
    kind = draw(st.sampled_from(["exact", "swapcase", "derived", "shuffled"]))
    if kind == "exact":
        pattern = value
    elif kind == "swapcase":
        pattern = value.swapcase()
    elif kind == "derived":
        pattern = _pattern_of(value, draw)
    else:
        pattern = "".join(draw(st.lists(st.sampled_from(sorted(set(value + "%_"))),
                                        max_size=len(value) + 2)))
    return Cmp(entity, key, draw(st.sampled_from(["LIKE", "ILIKE"])), pattern)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_like_agrees_with_a_python_evaluation(store: Store, data: st.DataObject) -> None:
    """LIKE and ILIKE alone, on patterns made from the stored values: the translation
    to GLOB (SQLite) or LIKE/ILIKE (PostgreSQL) must keep every character literal but
    % and _, and ILIKE must fold any case."""
    comparison = data.draw(_like_comparison(store.runs), label="comparison")
    text = render(comparison, data.draw)
    expected = [r.name for r in sorted(store.runs, key=lambda r: -r.start_time)
                if evaluate(comparison, r) is True]
    assert search(store, text) == expected, text


def test_runs_sort_and_filter_by_duration(store):
    """attributes.duration (end_time - start_time, ms) is flowtrack's own attribute: the
    UI sorts its Duration column with it; unfinished runs have none."""
    client = TrackingClient(store.metadata_url)
    experiment = client.create_experiment("durations")
    for name, length in (("short", 10), ("long", 500), ("mid", 100)):
        run = client.create_run(experiment, start_time=1_000, run_name=name)
        client.set_terminated(run.info.run_id, end_time=1_000 + length)
    client.create_run(experiment, start_time=1_000, run_name="running")
    names = [r.info.run_name for r in client.search_runs(
        [experiment], order_by=["attributes.duration DESC"])]
    assert names == ["long", "mid", "short", "running"]
    found = client.search_runs([experiment], "attributes.duration >= 100")
    assert {r.info.run_name for r in found} == {"long", "mid"}


# -- long filters ------------------------------------------------------------------------------


def plain(node: Any) -> str:
    """A filter tree as filter text, always spelled the same way (``render`` varies it)."""
    if isinstance(node, Bool) and node.op == "NOT":
        return f"NOT ({plain(node.parts[0])})"
    if isinstance(node, Bool):
        return f" {node.op} ".join(f"({plain(p)})" if isinstance(p, Bool) else plain(p)
                                   for p in node.parts)
    ident = f"{node.entity}.`{node.key}`"
    if node.value is None:
        return f"{ident} {node.op}"
    if isinstance(node.value, tuple):
        return f"{ident} {node.op} ({', '.join(_quoted(v) for v in node.value)})"
    value = _quoted(node.value) if isinstance(node.value, str) else _number(node.value)
    return f"{ident} {node.op} {value}"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def matching(store: Store, tree: Any) -> set[str]:
    """The runs a Python evaluation of ``tree`` selects (its truth value is True)."""
    return {r.name for r in store.runs if evaluate(tree, r) is True}


def test_a_thousand_anded_terms(store: Store) -> None:
    """1000 ANDed comparisons over every kind of key (some negated) select what a Python
    evaluation selects. Compiled to one SQL AND chain, SQLite refused them: "Expression
    tree is too large (maximum depth 1000)"."""
    kinds = [lambda k: Cmp("metrics", "acc", ">", -1.0 - k),
             lambda k: Cmp("params", "model", "!=", f"x{k}"),
             lambda k: Bool("NOT", (Cmp("tags", "team", "=", f"y{k}"),)),
             lambda k: Cmp("attributes", "start_time", "<", T0 + 100_000 + k),
             lambda k: Cmp("attributes", "run_name", "NOT IN", (f"a{k}", f"b{k}")),
             lambda k: Cmp("metrics", "loss", "<=", 10.0 + k)]
    tree = Bool("AND", tuple(kinds[k % len(kinds)](k) for k in range(1000)))
    text = plain(tree)
    assert len(text) > 25_000
    assert matching(store, tree) == {"svm-base", "svm-tuned", "b-svm"}
    assert names(store, text) == {"svm-base", "svm-tuned", "b-svm"}
    negated = Bool("NOT", (tree,))  # an OR of 1000 negated terms
    assert names(store, plain(negated)) == matching(store, negated) == {
        "cnn-1", "svm_v2", "b-unicode"}


def test_five_hundred_ored_terms(store: Store) -> None:
    """500 ORed terms, most of them matching no run, a few matching some (one of them an
    AND, one an IS NULL), select what a Python evaluation selects."""
    kinds = [lambda k: Cmp("attributes", "run_name", "=", f"nobody-{k}"),
             lambda k: Cmp("metrics", "loss", "=", 100.0 + k),
             lambda k: Cmp("params", "lr", "LIKE", f"zz{k}%"),
             lambda k: Bool("NOT", (Cmp("tags", "note", "!=", f"n{k}"),)),
             lambda k: Cmp("attributes", "run_id", "IN", (f"{k:032x}",))]
    terms = [kinds[k % len(kinds)](k) for k in range(500)]
    terms[7] = Cmp("attributes", "run_name", "=", "rf")
    terms[250] = Cmp("metrics", "acc", ">=", 0.95)
    terms[333] = Bool("AND", (Cmp("params", "opt", "=", "adam"),
                              Cmp("tags", "team", "=", "vision")))
    terms[499] = Cmp("tags", "note", "IS NULL", None)
    tree = Bool("OR", tuple(terms))
    expected = {"rf", "svm-tuned", "deleted-svm", "cnn-1", "cnn-2", "svmXv2", "empty",
                "b-svm"}
    assert matching(store, tree) == expected
    assert names(store, plain(tree)) == expected
    assert names(store, plain(Bool("NOT", (tree,)))) == matching(store, Bool("NOT", (tree,)))


def test_many_ored_groups_of_anded_terms(store: Store) -> None:
    """An OR of 300 ANDs (what a UI builds from a list of picked combinations)."""
    models = ["svm", "cnn", "rf", "SVM", "svm_v2", "ünï"]
    tree = Bool("OR", tuple(
        Bool("AND", (Cmp("params", "model", "=", models[k % len(models)]),
                     Cmp("metrics", "acc", ">", 0.5 + k / 1000),
                     Bool("NOT", (Cmp("attributes", "status", "=", "FAILED"),))))
        for k in range(300)))
    expected = matching(store, tree)
    assert expected == {"svm-base", "svm-tuned", "cnn-2", "deleted-svm", "b-svm"}
    assert names(store, plain(tree)) == expected


def nested(levels: int, width: int = 1) -> Any:
    """``levels`` groups in one another, alternately ORed and ANDed with ``width``
    comparisons."""
    tree: Any = Cmp("attributes", "run_name", "=", "rf")
    for level in range(levels):
        kinds = [Cmp("metrics", "acc", ">", 0.5 + level / 100),
                 Cmp("params", f"p{level}", "IS NULL", None),
                 Cmp("tags", f"t{level}", "!=", "x")]
        terms = tuple(kinds[k % len(kinds)] for k in range(width))
        tree = Bool("AND" if level % 2 else "OR", (*terms, tree))
    return tree


def test_nesting_is_limited_with_a_clear_error(store: Store) -> None:
    """AND and OR groups nest up to a limit (the SQL nests as deep, and SQLite's parser
    once overflowed at 50); deeper filters are refused naming the limit, never answered
    with a database error. Redundant parentheses and NOTs do not count."""
    from flowtrack.tracking.store.search import MAX_NESTING

    deepest = nested(MAX_NESTING)
    assert names(store, plain(deepest)) == matching(store, deepest) == {
        "svm-base", "svm-tuned", "deleted-svm", "b-svm"}
    negated = Bool("NOT", (deepest,))
    assert names(store, plain(negated)) == matching(store, negated)
    wide = nested(MAX_NESTING, width=40)  # parenthesized groups of terms at every level
    assert names(store, plain(wide)) == matching(store, wide)
    assert names(store, "(" * 150 + plain(deepest) + ")" * 150) == matching(store, deepest)
    with pytest.raises(InvalidParameterError, match=f"more than the {MAX_NESTING} levels") as caught:
        search(store, plain(nested(MAX_NESTING + 1)))
    assert "Flatten it" in str(caught.value)
    for levels in (50, 150):
        with pytest.raises(InvalidParameterError, match=f"more than the {MAX_NESTING} "):
            search(store, plain(nested(levels)))
