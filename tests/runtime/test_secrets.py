"""``@secrets``: variables from secret sources are set for the step only, checked by
Metaflow's rules, and never recorded."""

from __future__ import annotations

import pytest

from flowtrack import Flow, namespace
from flowtrack.runtime import SecretsError, get_secret

SECRETS_FLOW = """
    import os
    from flowtrack import FlowSpec, secrets, step

    SOURCES = [{"type": "inline", "id": "1",
                "options": {"env_vars": {"secret_1": "Pizza is a vegetable."}}},
               "file.{secret_file}"]

    class SecretFlow(FlowSpec):
        @secrets(sources=SOURCES)
        @step
        def start(self):
            self.seen = (os.environ["secret_1"], os.environ["DB_PASSWORD"], os.environ["TOKEN"])
            self.next(self.end)

        @step
        def end(self):
            self.leaked = os.environ.get("DB_PASSWORD")

    if __name__ == "__main__":
        SecretFlow()
"""


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "team.env"
    path.write_text("# team secrets\nDB_PASSWORD=hunter2\nexport TOKEN='abc def'\n")
    return path


def test_secrets_are_set_for_the_step_only_and_not_stored(write_flow, run_flow, secret_file):
    path = write_flow(SECRETS_FLOW.replace("{secret_file}", str(secret_file)))
    run_flow(path, "run", check=True)
    namespace(None)
    run = Flow("SecretFlow").latest_run
    assert run["start"].task.data.seen == ("Pizza is a vegetable.", "hunter2", "abc def")
    assert run["end"].task.data.leaked is None
    assert "hunter2" not in (run["start"].task.stdout + run["start"].task.stderr)


@pytest.mark.parametrize(("sources", "message"), [
    ('[{"type": "inline", "id": "a", "options": {"env_vars": {"X1": "1"}}},'
     ' {"type": "inline", "id": "b", "options": {"env_vars": {"X1": "2"}}}]',
     "will inject 'X1' as env var, and it is also added by"),
    ('[{"type": "inline", "id": "a", "options": {"env_vars": {"PATH": "/nowhere"}}}]',
     "'PATH' as env var, but it already exists in env"),
    ('[{"type": "inline", "id": "a", "options": {"env_vars": {"METAFLOW_X": "1"}}}]',
     "disallowed env var name 'METAFLOW_X'"),
    ('[{"type": "inline", "id": "a", "options": {"env_vars": {"1BAD": "1"}}}]',
     "invalid env var name '1BAD'"),
    ('["vault.prod/db"]', "Unknown secrets backend type vault"),
    ('["no-default-backend"]', "No default secrets backend type configured"),
    ('["file./does/not/exist.env"]', "Failed to retrieve secret '/does/not/exist.env'"),
])
def test_bad_secrets_fail_the_task_with_a_clear_message(sources, message, write_flow, run_flow):
    source = SECRETS_FLOW.replace('SOURCES = [{"type"', "_unused = [{\"type\"").replace(
        "@secrets(sources=SOURCES)", f"@secrets(sources={sources})")
    proc = run_flow(write_flow(source), "run")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert message in output
    assert "SecretsError" in output


def test_allow_override_and_get_secret(monkeypatch):
    monkeypatch.setenv("FLOWTRACK_DEFAULT_SECRETS_BACKEND_TYPE", "inline")
    assert get_secret({"id": "x", "options": {"env_vars": {"A": "1"}}}) == {"A": "1"}
    with pytest.raises(SecretsError, match="'id' must be a string"):
        get_secret({"type": "inline", "id": 3})
    from flowtrack.runtime._secrets import apply_secrets

    monkeypatch.setenv("SHARED", "old")
    apply_secrets({"sources": [{"type": "inline", "id": "s", "options": {
        "env_vars": {"SHARED": "new"}}}], "allow_override": True})
    import os

    assert os.environ["SHARED"] == "new"
