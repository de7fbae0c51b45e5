"""``@project``: branch names, their rules, ``current``'s project fields, the
``--branch`` / ``--production`` options, system tags and namespaces.

The naming scheme is Metaflow's (``user.<name>``, ``test.<branch>``, ``prod``,
``prod.<branch>``, ``<project>.<branch>.<Flow>``); the resolution is checked directly,
then through real runs whose steps write what ``current`` told them.
"""

from __future__ import annotations

import pytest

from flowtrack import FlowSpec, current, project, step
from flowtrack.client import Flow, Run, namespace
from flowtrack.flow import ProjectError, resolve_project


@project(name="fraud")
class Scoring(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class NoProject(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(("branch", "production", "expected_branch", "user_branch"), [
    (None, False, "user.ana", True),
    ("feature_x", False, "test.feature_x", False),
    (None, True, "prod", False),
    ("canary", True, "prod.canary", False),
])
def test_branch_names_follow_metaflow(branch, production, expected_branch, user_branch):
    info = resolve_project(Scoring, branch=branch, production=production, user="ana")
    assert info is not None
    assert info.branch_name == expected_branch
    assert info.is_user_branch is user_branch
    assert info.is_production is production
    assert info.project_flow_name == f"fraud.{expected_branch}.Scoring"
    assert info.system_tags == ["project:fraud", f"project_branch:{expected_branch}"]


def test_metaflow_owner_names_the_user_branch(monkeypatch):
    monkeypatch.setenv("METAFLOW_OWNER", "scheduler_bot")
    info = resolve_project(Scoring, branch=None, production=False, user="ana")
    assert info is not None and info.branch_name == "user.scheduler_bot"


def test_a_flow_without_project_resolves_to_none():
    assert resolve_project(NoProject, branch="x", production=True, user="ana") is None


@pytest.mark.parametrize("name", ["Fraud", "fraud-detection", "a b", "x" * 129])
def test_invalid_project_names_are_refused(name):
    with pytest.raises(ProjectError, match="@project name"):
        project(name=name)


def test_project_needs_a_name():
    with pytest.raises(ProjectError, match="needs a name"):
        project()
    with pytest.raises(ProjectError, match="needs a name"):
        project(Scoring)  # bare @project


def test_invalid_branch_is_refused():
    with pytest.raises(ProjectError, match="branch name must contain only lowercase"):
        resolve_project(Scoring, branch="Feature", production=False, user="ana")


def test_decorator_branch_and_conflicting_option():
    @project(name="fraud", branch="nightly", production=True)
    class Pinned(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    info = resolve_project(Pinned, branch=None, production=False, user="ana")
    assert info is not None and info.branch_name == "prod.nightly"
    # the same value in both places is not a conflict
    assert resolve_project(Pinned, branch="nightly", production=True, user="ana") == info
    with pytest.raises(ProjectError, match="cannot pass branch as both"):
        resolve_project(Pinned, branch="other", production=False, user="ana")


def test_project_fields_of_current_exist_only_with_a_project():
    with pytest.raises(AttributeError, match="@project"):
        current.project_name  # noqa: B018 - the access is the test
    assert current.get("branch_name", "none") == "none"
    assert "project_name" not in current


REPORTING_FLOW = """
    from flowtrack import FlowSpec, step, project, current

    @project(name="churn")
    class ChurnFlow(FlowSpec):
        @step
        def start(self):
            self.seen = {f: getattr(current, f) for f in (
                "project_name", "branch_name", "is_user_branch", "is_production",
                "project_flow_name")}
            self.next(self.end)

        @step
        def end(self):
            self.has_project = "project_name" in current

    if __name__ == "__main__":
        ChurnFlow()
"""


def _latest(flow: str) -> Run:
    namespace(None)
    run = Flow(flow).latest_run
    assert run is not None
    return run


def test_runs_carry_the_branch_in_current_and_tags(write_flow, run_flow):
    path = write_flow(REPORTING_FLOW)
    proc = run_flow(path, "run", check=True)
    assert "Project: churn, Branch: user.tester" in proc.stderr
    run = _latest("ChurnFlow")
    assert run["start"].task.data.seen == {
        "project_name": "churn", "branch_name": "user.tester", "is_user_branch": True,
        "is_production": False, "project_flow_name": "churn.user.tester.ChurnFlow"}
    assert run["end"].task.data.has_project is True
    assert {"project:churn", "project_branch:user.tester"} <= run.system_tags


def test_branch_and_production_options_and_their_variables(write_flow, run_flow):
    path = write_flow(REPORTING_FLOW)
    run_flow(path, "--branch", "exp1", "run", check=True)
    assert _latest("ChurnFlow")["start"].task.data.seen["branch_name"] == "test.exp1"
    # Metaflow's variables set the options too (its test suite sets METAFLOW_PRODUCTION)
    run_flow(path, "run", env={"METAFLOW_PRODUCTION": "True"}, check=True)
    seen = _latest("ChurnFlow")["start"].task.data.seen
    assert (seen["branch_name"], seen["is_production"]) == ("prod", True)
    assert seen["project_flow_name"] == "churn.prod.ChurnFlow"
    run_flow(path, "--production", "run", env={"FLOWTRACK_BRANCH": "blue"}, check=True)
    assert _latest("ChurnFlow")["start"].task.data.seen["branch_name"] == "prod.blue"


def test_namespace_of_a_branch_shows_only_its_runs(write_flow, run_flow):
    path = write_flow(REPORTING_FLOW)
    run_flow(path, "run", check=True)
    run_flow(path, "--production", "run", check=True)
    namespace("project_branch:prod")
    prod_runs = list(Flow("ChurnFlow").runs())
    assert len(prod_runs) == 1
    assert prod_runs[0]["start"].task.data.seen["is_production"] is True
    namespace("project:churn")
    assert len(list(Flow("ChurnFlow").runs())) == 2


def test_bad_branch_on_the_command_line_is_a_clear_error(write_flow, run_flow):
    path = write_flow(REPORTING_FLOW)
    proc = run_flow(path, "--branch", "Has-Dash", "run")
    assert proc.returncode != 0
    assert "branch name must contain only lowercase" in proc.stderr
    assert "Traceback" not in proc.stderr
    namespace(None)
    assert not _has_flow("ChurnFlow")  # nothing was recorded


def _has_flow(name: str) -> bool:
    try:
        Flow(name)
    except Exception:  # noqa: BLE001 - no run recorded: the flow does not exist
        return False
    return True


def test_branch_option_exists_only_for_project_flows(write_flow, run_flow):
    path = write_flow("""
        from flowtrack import FlowSpec, step

        class Plain(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            Plain()
    """)
    proc = run_flow(path, "--branch", "x", "run")
    assert proc.returncode == 2
    assert "No such option '--branch'" in proc.stderr
