"""Class-level constants are stored once per run and are part of every task's data
(``run['end'].task.data.CONST``), as in Metaflow, without becoming parameters; a
resumed run stores the constants of its own code."""

from __future__ import annotations

from flowtrack import Flow, namespace

CONSTANT_FLOW = """
    import threading
    from flowtrack import FlowSpec, Parameter, current, step

    class ConstFlow(FlowSpec):
        greeting = "hello"
        limit = 123
        empty = []
        lock = threading.Lock()  # cannot be stored: left out, still readable
        alpha = Parameter("alpha", default=0.5)

        @step
        def start(self):
            self.names = sorted(current.parameter_names)
            self.next(self.end)

        @step
        def end(self):
            self.seen = (self.greeting, self.limit, self.empty, self.lock is not None)

    if __name__ == "__main__":
        ConstFlow()
"""


def test_constants_are_in_every_tasks_data_but_are_not_parameters(write_flow, run_flow):
    path = write_flow(CONSTANT_FLOW)
    proc = run_flow(path, "run", check=True)
    assert "Class-level constant 'lock' is not stored" in proc.stdout + proc.stderr
    namespace(None)
    run = Flow("ConstFlow").latest_run
    for step in ("start", "end"):
        data = run[step].task.data
        assert (data.greeting, data.limit, data.empty) == ("hello", 123, [])
        assert "lock" not in run[step].task
    assert run["start"].task.data.names == ["alpha"]
    assert run.parameters == {"alpha": 0.5}
    assert run["end"].task.data.seen == ("hello", 123, [], True)


def test_a_resumed_run_stores_the_constants_of_its_code(write_flow, run_flow):
    path = write_flow(CONSTANT_FLOW)
    run_flow(path, "run", check=True)
    path.write_text(path.read_text().replace("limit = 123", "limit = 124"))
    run_flow(path, "resume", "end", check=True)
    namespace(None)
    run = Flow("ConstFlow").latest_run
    assert run.origin_run_id is not None
    assert run["end"].task.data.limit == 124
    assert run.parameters == {"alpha": 0.5}
