"""ML Metadata's getting-started walkthrough, done with flowtrack's MetadataStore.

Registers the types (a DataSet and a SavedModel artifact type, a Trainer
execution type, an Experiment context type), records one training run (dataset
-> trainer -> model, in an experiment) and then answers three lineage questions
by walking the graph:

1. Which dataset trained this model?
2. Which executions used this dataset?
3. Which models did this experiment produce?

    python walkthrough.py                        # a fresh SQLite file in a temp dir
    python walkthrough.py sqlite:////tmp/m.db    # any SQLAlchemy URL

The code is MLMD's with the import changed: the nodes, edges and types are plain
dataclasses instead of ``metadata_store_pb2`` protobufs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from flowtrack.lineage import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    MetadataStore,
    PropertyType,
)


def store_url(argv: list[str]) -> str:
    """The URL given on the command line, else a new SQLite file in a temp dir."""
    if len(argv) > 1:
        return argv[1]
    directory = Path(tempfile.mkdtemp(prefix="flowtrack-walkthrough-"))
    return f"sqlite:///{directory / 'metadata.db'}"


def record(store: MetadataStore) -> dict[str, int]:
    """Record the walkthrough's run; return the ids of what it made."""
    # 1. Types: what kinds of artifacts, executions and contexts exist.
    data_type_id = store.put_artifact_type(ArtifactType(
        name="DataSet", properties={"day": PropertyType.INT, "split": PropertyType.STRING}))
    model_type_id = store.put_artifact_type(ArtifactType(
        name="SavedModel",
        properties={"version": PropertyType.INT, "name": PropertyType.STRING}))
    trainer_type_id = store.put_execution_type(ExecutionType(name="Trainer"))
    experiment_type_id = store.put_context_type(ContextType(
        name="Experiment", properties={"note": PropertyType.STRING}))

    # 2. The dataset the trainer reads.
    dataset = Artifact(type_id=data_type_id, uri="path/to/data",
                       properties={"day": 1, "split": "train"},
                       state=Artifact.State.LIVE)
    [dataset_id] = store.put_artifacts([dataset])

    # 3. A trainer run, RUNNING, that reads the dataset (an INPUT event).
    trainer_run = Execution(type_id=trainer_type_id, name="trainer-run-1",
                            last_known_state=Execution.State.RUNNING)
    [run_id] = store.put_executions([trainer_run])
    store.put_events([Event(artifact_id=dataset_id, execution_id=run_id,
                            type=Event.Type.INPUT, path=["examples"])])

    # 4. The trainer finishes: it outputs the model and is marked COMPLETE in one
    #    atomic put_execution (the execution has an id, so it is updated).
    model = Artifact(type_id=model_type_id, uri="path/to/model/file",
                     properties={"version": 1, "name": "MNIST-v1"},
                     state=Artifact.State.LIVE)
    trainer_run.last_known_state = Execution.State.COMPLETE
    _, [model_id], _ = store.put_execution(
        trainer_run, [(model, Event(type=Event.Type.OUTPUT, path=["model"]))], contexts=[])

    # 5. The experiment groups the run and what it read and wrote.
    experiment = Context(type_id=experiment_type_id, name="exp1",
                         properties={"note": "My first experiment."})
    [experiment_id] = store.put_contexts([experiment])
    store.put_attributions_and_associations(
        [Attribution(context_id=experiment_id, artifact_id=dataset_id),
         Attribution(context_id=experiment_id, artifact_id=model_id)],
        [Association(context_id=experiment_id, execution_id=run_id)])
    return {"dataset": dataset_id, "model": model_id, "run": run_id,
            "experiment": experiment_id}


# -- the questions ------------------------------------------------------------------
def datasets_that_trained(store: MetadataStore, model_id: int) -> list[Artifact]:
    """model -> OUTPUT event -> execution -> INPUT events -> artifacts."""
    producers = [e.execution_id for e in store.get_events_by_artifact_ids([model_id])
                 if e.type == Event.Type.OUTPUT]
    inputs = [e.artifact_id for e in store.get_events_by_execution_ids(producers)
              if e.type == Event.Type.INPUT]
    return [a for a in store.get_artifacts_by_id(inputs) if a.type == "DataSet"]


def executions_that_used(store: MetadataStore, dataset_id: int) -> list[Execution]:
    """dataset -> INPUT events -> executions."""
    readers = [e.execution_id for e in store.get_events_by_artifact_ids([dataset_id])
               if e.type == Event.Type.INPUT]
    return store.get_executions_by_id(readers)


def models_of_experiment(store: MetadataStore, experiment_id: int) -> list[Artifact]:
    """The experiment's SavedModels that one of its executions output."""
    runs = [e.id for e in store.get_executions_by_context(experiment_id)]
    outputs = {e.artifact_id for e in store.get_events_by_execution_ids(runs)
               if e.type == Event.Type.OUTPUT}
    return [a for a in store.get_artifacts_by_context(experiment_id)
            if a.type == "SavedModel" and a.id in outputs]


def describe_artifact(a: Artifact) -> str:
    props = ", ".join(f"{k}={v!r}" for k, v in sorted(a.properties.items()))
    return f"{a.type} #{a.id} uri={a.uri} ({props})"


def describe_execution(e: Execution) -> str:
    return f"{e.type} #{e.id} {e.name!r} state={Execution.State(e.last_known_state).name}"


def answer(question: str, lines: list[str]) -> None:
    print(question)
    for line in lines or ["(none)"]:
        print(f"    -> {line}")


def main(argv: list[str]) -> int:
    url = store_url(argv)
    print(f"Metadata store: {url}")
    store = MetadataStore(url)
    ids = record(store)
    print(f"Recorded: dataset #{ids['dataset']}, trainer run #{ids['run']}, "
          f"model #{ids['model']}, experiment #{ids['experiment']}")

    [model] = store.get_artifacts_by_id([ids["model"]])
    [dataset] = store.get_artifacts_by_id([ids["dataset"]])
    [experiment] = store.get_contexts_by_id([ids["experiment"]])

    print()
    answer(f"Q1. Which dataset trained model {model.properties['name']!r} (#{model.id})?",
           [describe_artifact(a) for a in datasets_that_trained(store, model.id)])
    answer(f"Q2. Which executions used dataset #{dataset.id} ({dataset.uri})?",
           [describe_execution(e) for e in executions_that_used(store, dataset.id)])
    answer(f"Q3. Which models did experiment {experiment.name!r} produce?",
           [describe_artifact(a) for a in models_of_experiment(store, experiment.id)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
