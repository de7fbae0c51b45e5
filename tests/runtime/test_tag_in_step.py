"""A task can write to the store itself while the scheduler records the run: tagging
its own run from a step, many tasks at once (before, a task forked while the scheduler
held SQLite's write lock waited 30 s and failed with "database is locked")."""

from __future__ import annotations

from flowtrack import Flow

TAGGING_FLOW = """
    from flowtrack import FlowSpec, Run, current, step

    class TaggingFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(12))
            self.next(self.body, foreach="items")

        @step
        def body(self):
            Run(f"{current.flow_name}/{current.run_id}").add_tag(f"item-{self.input}")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            self.seen = sorted(Run(f"{current.flow_name}/{current.run_id}").user_tags)

    if __name__ == "__main__":
        TaggingFlow()
"""


def test_tasks_tag_their_own_run_while_it_runs(write_flow, run_flow):
    proc = run_flow(write_flow(TAGGING_FLOW), "run", "--max-workers", "6", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "locked" not in proc.stdout + proc.stderr
    run = Flow("TaggingFlow").latest_run
    expected = sorted(f"item-{i}" for i in range(12))
    assert run.data.seen == expected  # each step saw its own write at once
    assert sorted(run.user_tags) == expected
