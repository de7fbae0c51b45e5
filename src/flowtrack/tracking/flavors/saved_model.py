"""Saved models: a directory with an ``MLmodel`` descriptor (MLflow's format: flavors,
Python and library versions, signature, input example), ``requirements.txt`` and
the pickled model; logging one to a run as files plus a ``Model`` artifact in the
lineage graph; and loading one back from a model URI.

Model URIs: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>``,
``models:/<name>@<alias>``, a local directory, or a flow artifact
pathspec ``Flow/run/step/task/name`` (the value itself is the model). The sklearn
flavor (``flowtrack.sklearn``) and the generic ``flowtrack.pyfunc`` loader sit on
top of this module.
"""

from __future__ import annotations

import pickle
import platform
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ..artifacts import files as _files
from ..entities.signature import ModelSignature, enforce, infer_signature
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..fluent import api as _fluent
from ..store.run_lineage import insert_model_artifact, run_execution

MODEL_FILE = "model.pkl"


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns (MLflow's ``ModelInfo``)."""

    model_uri: str
    run_id: str
    artifact_path: str
    flavors: dict[str, Any]
    signature: ModelSignature | None
    utc_time_created: str
    model_uuid: str


# -- saving ------------------------------------------------------------------------------
def save_model(model: Any, path: str | Path, flavor: str, flavor_conf: dict[str, Any],
               requirements: list[str], signature: ModelSignature | None = None,
               input_example: Any = None) -> dict[str, Any]:
    """Write the model directory; returns the MLmodel contents."""
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise InvalidParameterError(f"Path {str(target)!r} already exists and is not empty; "
                                    "save the model to a new directory.")
    target.mkdir(parents=True, exist_ok=True)
    try:
        (target / MODEL_FILE).write_bytes(pickle.dumps(model, protocol=5))
    except Exception as exc:  # an unpicklable model (a lambda, an open file...)
        raise InvalidParameterError(f"Cannot save the model: {type(model).__name__} could not "
                                    f"be pickled ({exc}).") from None
    if signature is None and input_example is not None:
        output = model.predict(input_example) if hasattr(model, "predict") else None
        signature = infer_signature(input_example, output)
    descriptor: dict[str, Any] = {
        "artifact_path": target.name,
        "flavors": {
            "python_function": {"loader_module": f"flowtrack.{flavor}", "model_path": MODEL_FILE,
                                "python_version": platform.python_version(),
                                "env": {"virtualenv": "python_env.yaml"}},
            flavor: flavor_conf,
        },
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "flowtrack_version": _version(),
    }
    if signature is not None:
        descriptor["signature"] = signature.to_dict()
    if input_example is not None:
        (target / "input_example.json").write_text(_example_json(input_example))
        descriptor["saved_input_example_info"] = {"artifact_path": "input_example.json",
                                                  "type": "dataframe", "pandas_orient": "split"}
    (target / "MLmodel").write_text(yaml.safe_dump(descriptor, sort_keys=False))
    (target / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (target / "python_env.yaml").write_text(yaml.safe_dump({
        "python": platform.python_version(), "build_dependencies": ["pip"],
        "dependencies": ["-r requirements.txt"]}, sort_keys=False))
    return descriptor


def _example_json(example: Any) -> str:
    import pandas as pd

    frame = pd.DataFrame(example) if not isinstance(example, pd.DataFrame) else example
    return frame.to_json(orient="split", index=False)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flowtrack")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


# -- logging -----------------------------------------------------------------------------
def log_model(model: Any, name: str, flavor: str, flavor_conf: dict[str, Any],
              requirements: list[str], signature: ModelSignature | None = None,
              input_example: Any = None) -> ModelInfo:
    """Save the model into the active run (or, in a step, the flow run) under ``name``
    and record it as a Model artifact produced by the run (or the task)."""
    path = _files.clean_path(name, "model name")
    if not path:
        raise InvalidParameterError("log_model needs a name, e.g. name='model'.")
    handle = _fluent._handle()
    with tempfile.TemporaryDirectory(prefix="flowtrack-model-") as tmp:
        descriptor = save_model(model, Path(tmp) / "model", flavor, flavor_conf, requirements,
                                signature, input_example)
        descriptor["artifact_path"] = path
        descriptor["run_id"] = handle.run.info.run_id
        (Path(tmp) / "model" / "MLmodel").write_text(yaml.safe_dump(descriptor, sort_keys=False))
        for relative, data in _files.local_dir(Path(tmp) / "model", path):
            _fluent._log_file(None, relative, data)
    run_id = handle.run.info.run_id
    if handle.store is None:  # in a step: the scheduler records the Model artifact
        handle.buffer.add_model(path, flavor)
    else:
        record_model(handle.store, run_id, path, flavor)
    sig = descriptor.get("signature")
    return ModelInfo(f"runs:/{run_id}/{path}", run_id, path, descriptor["flavors"],
                     ModelSignature.from_dict(sig) if sig else None,
                     descriptor["utc_time_created"], descriptor["model_uuid"])


def record_model(store: Any, run_id: str, path: str, flavor: str) -> int:
    """The Model artifact for a model logged to a tracking run, an OUTPUT of the run's
    execution (made on first use) so lineage queries reach it. Through a tracking
    server, the server records it (and returns -1: the id is the server's)."""
    if store.remote:
        store.record_model(run_id, path, {"flavors": {flavor: {}}})
        return -1
    with store.write() as s:
        run_pk, exec_id = run_execution(s, store, run_id)
        return insert_model_artifact(s, run_pk, run_id, path, flavor, exec_id)


# -- loading -----------------------------------------------------------------------------
def local_model(model_uri: str, dst_path: str | None = None) -> Path | Any:
    """A local directory holding the model at ``model_uri``; for a flow artifact
    pathspec, the stored value itself."""
    if not isinstance(model_uri, (str, Path)):
        raise InvalidParameterError(f"A model URI must be a string; got {model_uri!r}.")
    uri = str(model_uri)
    if uri.startswith("models:/"):
        return local_model(registered_source(uri), dst_path)
    if uri.startswith("runs:/"):
        run_id, _, path = uri[len("runs:/"):].partition("/")
        if not run_id or not path:
            raise InvalidParameterError(f"Invalid model URI {uri!r}: expected "
                                        "runs:/<run_id>/<path>.")
        store = _fluent._store()
        target = dst_path or tempfile.mkdtemp(prefix="flowtrack-model-")
        return Path(_files.download(store, run_id, path, target))
    local = Path(uri.removeprefix("file://"))
    if local.is_dir():
        return local
    if uri.count("/") == 4 and "://" not in uri:
        from ...client import DataArtifact

        return DataArtifact(uri).data
    raise ResourceDoesNotExistError(
        f"No model at {uri!r}. Model URIs are runs:/<run_id>/<path>, models:/<name>/"
        "<version>, models:/<name>@<alias>, a local model directory, or a flow artifact "
        "pathspec Flow/run/step/task/name.")


def registered_source(uri: str) -> str:
    """The source URI of ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
    ``models:/<name>/latest``."""
    from ..registry.model_registry import registry_for

    rest = uri[len("models:/"):]
    registry = registry_for(_fluent._store())
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return registry.get_version_by_alias(name, alias).source
    name, _, version = rest.rpartition("/")
    if not name or not version:
        raise InvalidParameterError(f"Invalid model URI {uri!r}: expected models:/<name>/"
                                    "<version>, models:/<name>@<alias> or models:/<name>/latest.")
    if version == "latest":
        return registry.latest_version(name).source
    return registry.get_model_version(name, version).source


def read_descriptor(directory: Path) -> dict[str, Any]:
    descriptor = directory / "MLmodel"
    if not descriptor.is_file():
        raise ResourceDoesNotExistError(f"{str(directory)!r} is not a model directory: it has "
                                        "no MLmodel file.")
    return dict(yaml.safe_load(descriptor.read_text()))


def load_pickled(directory: Path, descriptor: dict[str, Any]) -> Any:
    conf = descriptor["flavors"].get("python_function", {})
    return pickle.loads((directory / conf.get("model_path", MODEL_FILE)).read_bytes())


class PyFuncModel:
    """A loaded model behind MLflow's generic interface: ``predict`` checks the input
    against the model's signature first."""

    def __init__(self, model: Any, descriptor: dict[str, Any]) -> None:
        self._model = model
        self.metadata = descriptor
        sig = descriptor.get("signature")
        self.signature = ModelSignature.from_dict(sig) if sig else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._model.predict(enforce(self.signature, data))

    def unwrap_python_model(self) -> Any:
        return self._model

    def __repr__(self) -> str:
        flavors = ", ".join(self.metadata.get("flavors", {}))
        return f"PyFuncModel(flavors: {flavors}, run_id: {self.metadata.get('run_id')})"


def load_pyfunc(model_uri: str, dst_path: str | None = None) -> PyFuncModel:
    found = local_model(model_uri, dst_path)
    if not isinstance(found, Path):  # a flow artifact: the model object itself
        return PyFuncModel(found, {"flavors": {"python_function": {}}})
    descriptor = read_descriptor(found)
    return PyFuncModel(load_pickled(found, descriptor), descriptor)

