"""The lineage walkthrough (MLMD's getting-started guide on flowtrack) runs, prints
the three answers, and leaves a store whose graph gives the same answers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowtrack.lineage import Event, Execution, MetadataStore, PropertyType

WALKTHROUGH = Path(__file__).resolve().parents[2] / "examples" / "lineage" / "walkthrough.py"


def run_walkthrough(*args: str, env: dict[str, str] | None = None
                    ) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(WALKTHROUGH), *args], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def answers(stdout: str) -> dict[str, list[str]]:
    """Question number ('Q1'...) -> the '-> ' answer lines printed under it."""
    found: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        question = re.match(r"(Q\d)\. ", line)
        if question:
            current = found.setdefault(question.group(1), [])
        elif line.strip().startswith("-> "):
            assert current is not None, f"answer before any question:\n{stdout}"
            current.append(line.strip()[3:])
    return found


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    url = "sqlite:///" + str(tmp_path_factory.mktemp("walkthrough") / "metadata.db")
    return url, run_walkthrough(url).stdout


def test_prints_the_three_answers(walkthrough):
    url, stdout = walkthrough
    assert f"Metadata store: {url}" in stdout
    found = answers(stdout)
    assert set(found) == {"Q1", "Q2", "Q3"}, stdout
    assert "Which dataset trained model 'MNIST-v1'" in stdout
    [dataset] = found["Q1"]
    assert dataset.startswith("DataSet #") and "uri=path/to/data" in dataset
    assert "day=1" in dataset and "split='train'" in dataset
    [execution] = found["Q2"]
    assert execution.startswith("Trainer #") and "state=COMPLETE" in execution
    [model] = found["Q3"]
    assert model.startswith("SavedModel #") and "uri=path/to/model/file" in model
    assert "name='MNIST-v1'" in model and "version=1" in model


def test_the_store_holds_the_walkthrough_graph(walkthrough):
    url, stdout = walkthrough
    store = MetadataStore(url)
    [dataset] = store.get_artifacts_by_type("DataSet")
    [model] = store.get_artifacts_by_type("SavedModel")
    [trainer] = store.get_executions_by_type("Trainer")
    [experiment] = store.get_contexts_by_type("Experiment")
    assert dataset.properties == {"day": 1, "split": "train"}
    assert dataset.uri == "path/to/data"
    assert model.properties == {"version": 1, "name": "MNIST-v1"}
    assert model.uri == "path/to/model/file"
    assert trainer.last_known_state == Execution.State.COMPLETE
    assert experiment.name == "exp1"
    assert store.get_artifact_type("DataSet").properties == {
        "day": PropertyType.INT, "split": PropertyType.STRING}

    # the printed ids are the stored ones
    found = answers(stdout)
    assert f"#{dataset.id} " in found["Q1"][0]
    assert f"#{trainer.id} " in found["Q2"][0]
    assert f"#{model.id} " in found["Q3"][0]

    # Q1 structurally: model -> OUTPUT -> trainer -> INPUT -> dataset
    [out] = store.get_events_by_artifact_ids([model.id])
    assert (out.type, out.execution_id) == (Event.Type.OUTPUT, trainer.id)
    trainer_events = store.get_events_by_execution_ids([trainer.id])
    inputs = [e.artifact_id for e in trainer_events if e.type == Event.Type.INPUT]
    assert inputs == [dataset.id]

    # Q2: the dataset's only reader is the trainer
    [used] = store.get_events_by_artifact_ids([dataset.id])
    assert (used.type, used.execution_id) == (Event.Type.INPUT, trainer.id)

    # Q3: the experiment holds the trainer and both artifacts; the model is its output
    assert [e.id for e in store.get_executions_by_context(experiment.id)] == [trainer.id]
    assert {a.id for a in store.get_artifacts_by_context(experiment.id)} == {dataset.id,
                                                                            model.id}
    assert [c.id for c in store.get_contexts_by_artifact(model.id)] == [experiment.id]
    assert [c.id for c in store.get_contexts_by_execution(trainer.id)] == [experiment.id]


def test_without_a_url_it_uses_a_fresh_temp_store(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    stdout = run_walkthrough(env=env).stdout
    url = re.search(r"Metadata store: (\S+)", stdout).group(1)  # type: ignore[union-attr]
    assert url.startswith("sqlite:///" + str(tmp_path))
    assert set(answers(stdout)) == {"Q1", "Q2", "Q3"}
    [model] = MetadataStore(url).get_artifacts_by_type("SavedModel")
    assert model.properties["name"] == "MNIST-v1"
