"""log_input: datasets as shared Dataset artifacts, INPUTs of the runs and tasks
that logged them."""

from __future__ import annotations

import pandas as pd
import pytest

import flowtrack as ft
from flowtrack import Flow
from flowtrack.data import from_pandas
from flowtrack.lineage import DATASET_TYPE, MetadataStore
from flowtrack.tracking import InvalidParameterError


def test_a_dataset_is_shared_by_the_runs_that_used_it(store_env):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "b", "a"]})
    dataset = from_pandas(frame, source="s3://bucket/data.csv", name="train", targets="label")
    assert dataset.digest == from_pandas(frame.copy(), name="train").digest
    assert dataset.digest != from_pandas(frame.head(2), name="train").digest
    runs = []
    for _ in range(2):
        with ft.start_run() as run:
            ft.log_input(dataset, context="training")
        runs.append(run.info.run_id)
    [inp] = ft.get_run(runs[0]).inputs.dataset_inputs
    assert (inp.dataset.name, inp.dataset.digest, inp.dataset.source_type) == \
        ("train", dataset.digest, "s3")
    store = MetadataStore()
    [artifact] = [a for a in store.get_artifacts_by_type(DATASET_TYPE)
                  if (a.name or "").startswith("dataset:train:")]
    consumers = store.get_events_by_artifact_ids([artifact.id])
    assert len(consumers) == 2
    assert all(list(e.path) == ["training"] for e in consumers)
    with ft.start_run():
        with pytest.raises(InvalidParameterError, match="DataFrame"):
            ft.log_input([1, 2, 3])


FLOW = """
    import pandas as pd
    import flowtrack
    from flowtrack import FlowSpec, step

    class DataFlow(FlowSpec):
        @step
        def start(self):
            flowtrack.log_input(pd.DataFrame({"a": [1, 2]}), context="training")
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        DataFlow()
"""


def test_a_step_logs_a_dataset_as_an_input_of_its_task(store_env, write_flow, run_flow):
    assert run_flow(write_flow(FLOW), "run").returncode == 0
    flow_run = Flow("DataFlow").latest_run
    [run] = ft.search_runs(experiment_names=["DataFlow"], output_format="list")
    [inp] = ft.get_run(run.info.run_id).inputs.dataset_inputs
    assert inp.dataset.name == "dataset"
    store = MetadataStore()
    [artifact] = [a for a in store.get_artifacts_by_type(DATASET_TYPE)
                  if (a.name or "").startswith("dataset:")]
    [event] = store.get_events_by_artifact_ids([artifact.id])
    [task] = store.get_executions_by_id([event.execution_id])
    assert task.name == flow_run["start"].task.pathspec
