"""The command-line and client surface Metaflow's own test checkers drive, in
Metaflow's formats: ``dump --include --file`` (a pickled dict), ``tag list --flat``
on stderr, ``tag replace``, per-attempt ``attempt`` metadata, ``python_version`` on
every task, ``current.task`` / ``current.run`` / ``current.tags``, and iterating a flow
object's steps."""

from __future__ import annotations

import pickle

from flowtrack import Flow, namespace

FLOW = """
    from flowtrack import FlowSpec, current, retry, step

    class SurfaceFlow(FlowSpec):
        @retry(times=2)
        @step
        def start(self):
            if current.retry_count < 2:
                raise RuntimeError("try again")
            self.task_obj = current.task
            self.run_obj = current.run
            self.tags_seen = current.tags
            self.value = 41
            self.next(self.end)

        @step
        def end(self):
            self.steps = [s.name for s in self]

    if __name__ == "__main__":
        SurfaceFlow()
"""


def test_checker_surface(write_flow, run_flow, tmp_path):
    path = write_flow(FLOW)
    proc = run_flow(path, "run", "--tag", "keep", check=True)
    namespace(None)
    run = Flow("SurfaceFlow").latest_run
    start = run["start"].task
    assert start.data.task_obj.pathspec == start.pathspec
    assert start.data.run_obj.pathspec == run.pathspec
    assert start.data.tags_seen == {"keep"}
    assert run["end"].task.data.steps == ["start", "end"]
    attempts = sorted(m.value for m in start.metadata if m.type == "attempt")
    assert attempts == ["0", "1", "2"] and start.metadata_dict["attempt"] == "2"
    assert start.metadata_dict["python_version"].count(".") == 2

    out = tmp_path / "dump.pkl"
    proc = run_flow(path, "dump", "--max-value-size", "100000000", "--private", "--include",
                    "value", "--file", str(out), f"{run.id}/start", check=True)
    assert pickle.loads(out.read_bytes()) == {f"{run.id}/start/{start.id}": {"value": 41}}

    proc = run_flow(path, "tag", "replace", "--run-id", run.id, "keep", "kept", check=True)
    proc = run_flow(path, "tag", "replace", "--run-id", run.id, "--remove", "kept",
                    "--add", "a", "--add", "b", check=True)
    proc = run_flow(path, "tag", "list", "--flat", "--hide-system-tags", "--run-id", run.id,
                    check=True)
    assert proc.stderr.splitlines()[1:] == ["a", "b"]
    proc = run_flow(path, "tag", "list", "--flat", "--run-id", run.id, check=True)
    assert "user:tester" in proc.stderr.splitlines()[1:]
