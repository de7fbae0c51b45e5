"""A flow run is a tracking run: steps log with the fluent API and no start_run, and
what they log lands on the flow run, linked to the task that logged it."""

from __future__ import annotations

from sqlalchemy import select

import flowtrack as ft
from flowtrack import Flow, TrackingClient
from flowtrack.lineage import Database, EventType, LineageSession, events, metrics

FLOW = """
    import os
    import flowtrack
    from flowtrack import FlowSpec, Parameter, step

    class TrackedFlow(FlowSpec):
        lr = Parameter("lr", default=0.1)

        @step
        def start(self):
            self.items = [1, 2, 3]
            flowtrack.log_param("optimizer", "sgd")
            flowtrack.set_tag("stage", "start")
            self.next(self.train, foreach="items")

        @step
        def train(self):
            for epoch in range(4):
                flowtrack.log_metric("loss", self.input / (epoch + 1), step=epoch)
            flowtrack.log_param("width", self.input)  # differs per task: stays on the task
            flowtrack.log_text(f"weights {self.input}", f"models/m{self.input}.txt")
            self.run_id_seen = flowtrack.active_run().info.run_id
            if os.environ.get("FAIL_TRAIN") and self.input == 2:
                raise RuntimeError("training diverged")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.seen = sorted({i.run_id_seen for i in inputs})
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        TrackedFlow()
"""


def _tracking_run(flow_run):
    [run] = ft.search_runs(experiment_names=["TrackedFlow"], output_format="list",
                           filter_string=f"tags.`flowtrack.pathspec` = '{flow_run.pathspec}'")
    return run


def test_steps_log_to_the_flow_run(store_env, write_flow, run_flow):
    path = write_flow(FLOW)
    done = run_flow(path, "run", "--lr", "0.05")
    assert done.returncode == 0, done.stderr
    flow_run = Flow("TrackedFlow").latest_run
    run = _tracking_run(flow_run)
    assert flow_run.data.seen == [run.info.run_id]  # active_run() in a step is the flow run
    assert run.info.status == "FINISHED"
    assert ft.get_experiment(run.info.experiment_id).name == "TrackedFlow"
    assert run.data.params["lr"] == "0.05" and run.data.params["optimizer"] == "sgd"
    assert run.data.params["width"] in {"1", "2", "3"}
    assert run.data.tags["stage"] == "start"
    history = TrackingClient().get_metric_history(run.info.run_id, "loss")
    assert len(history) == 12
    assert [m.step for m in history] == sorted(m.step for m in history)
    assert sorted(m.value for m in history if m.step == 0) == [1.0, 2.0, 3.0]
    files = TrackingClient().list_artifacts(run.info.run_id, "models")
    assert [f.path for f in files] == ["models/m1.txt", "models/m2.txt", "models/m3.txt"]


def test_what_a_task_logged_is_linked_to_the_task(store_env, write_flow, run_flow):
    path = write_flow(FLOW)
    assert run_flow(path, "run").returncode == 0
    flow_run = Flow("TrackedFlow").latest_run
    run = _tracking_run(flow_run)
    tasks = {t.pathspec: t for t in flow_run["train"].tasks()}
    db = Database.open(store_env["FLOWTRACK_METADATA"] if "FLOWTRACK_METADATA" in store_env
                       else f"sqlite:///{store_env['FLOWTRACK_HOME']}/metadata.db")
    with LineageSession(db) as s:
        chunk_tasks = set(s.conn.execute(select(metrics.c.execution_id)
                                         .where(metrics.c.key == "loss")).scalars())
        task_nodes = s.nodes_by_ids("execution", sorted(chunk_tasks))
        assert sorted(n.name for n in task_nodes) == sorted(tasks)
        # each file is an OUTPUT of the train task that logged it
        outputs = s.conn.execute(select(events.c.execution_id).where(
            events.c.type == int(EventType.OUTPUT))).scalars().all()
        producers = {n.name for n in s.nodes_by_ids("execution", sorted(set(outputs)))}
        assert set(tasks) <= producers
        # the conflicting per-task param values stay on the tasks
        widths = sorted(n.custom_properties.get("param:width") for n in task_nodes
                        if "param:width" in n.custom_properties)
    assert len(widths) == 2 and run.data.params["width"] not in widths


def test_points_logged_before_a_task_fails_are_kept(store_env, write_flow, run_flow):
    path = write_flow(FLOW)
    failed = run_flow(path, "run", env={"FAIL_TRAIN": "1"})
    assert failed.returncode == 1 and "training diverged" in failed.stderr
    flow_run = Flow("TrackedFlow").latest_run
    run = _tracking_run(flow_run)
    assert run.info.status == "FAILED"
    history = TrackingClient().get_metric_history(run.info.run_id, "loss")
    assert sorted(m.value for m in history if m.step == 0) == [1.0, 2.0, 3.0]


def test_metaflow_tags_are_tracking_tags(store_env, write_flow, run_flow):
    path = write_flow(FLOW)
    assert run_flow(path, "run", "--tag", "baseline").returncode == 0
    flow_run = Flow("TrackedFlow").latest_run
    found = ft.search_runs(experiment_names=["TrackedFlow"], output_format="list",
                           filter_string="tags.baseline = ''")
    assert [r.data.tags["flowtrack.pathspec"] for r in found] == [flow_run.pathspec]
    flow_run.add_tag("promoted")
    flow_run.remove_tag("baseline")
    run = _tracking_run(flow_run)
    assert "promoted" in run.data.tags and "baseline" not in run.data.tags
    assert run.data.tags["mlflow.source.type"] == "FLOW"
