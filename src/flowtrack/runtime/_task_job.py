"""A task attempt as sent to a process that does not share the scheduler's memory:
an interpreter started for a ``@pypi`` step, or a Ray worker.

A ``TaskJob`` holds the attempt's ``TaskSpec`` (artifact digests, never values), the
run's code package and the blob store's URL; the receiving process loads the flow
from the code package (``load_job_flow``) and reads values from the store.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from types import ModuleType

from .._config import settings
from ..flow import FlowSpec, replay_flow_setup
from ..store import BlobStore
from ._code import CodeInfo, code_cache_dir, load_flow_class, materialize, touch
from ._model import TaskSpec


@dataclass
class TaskJob:
    spec: TaskSpec
    code: CodeInfo
    store_url: str


def write_job(job: TaskJob) -> str:
    """Write the job to a private temporary file and return its path (the receiving
    process deletes it once read)."""
    handle, path = tempfile.mkstemp(prefix="flowtrack-task-", suffix=".job")
    with os.fdopen(handle, "wb") as out:
        pickle.dump(job, out, protocol=5)
    return path


def read_job(path: str) -> TaskJob:
    try:
        with open(path, "rb") as source:
            job = pickle.load(source)
    finally:
        os.unlink(path)
    if not isinstance(job, TaskJob):
        raise TypeError(f"{path} does not hold a flowtrack task job")
    return job


_stores: dict[str, BlobStore] = {}
_flows: dict[str, tuple[type[FlowSpec], ModuleType]] = {}


def job_store(url: str) -> BlobStore:
    """One blob store per URL and process (a worker runs many tasks)."""
    store = _stores.get(url)
    if store is None:
        store = _stores[url] = BlobStore(url, verify_reads=settings().verify_reads)
    return store


def load_job_flow(job: TaskJob) -> tuple[type[FlowSpec], ModuleType]:
    """The job's flow class and module, loaded and prepared as the launching process
    prepared it (configs, ``--with``, mutators) once per code package, setup and
    process."""
    setup = job.spec.flow_setup
    key = f"{job.code.digest}:{setup.key}"
    found = _flows.get(key)
    if found is not None:
        touch(code_cache_dir() / job.code.digest)  # still in use by this worker
    else:
        root = materialize(job_store(job.store_url), job.code)
        found = _flows[key] = load_flow_class(root, job.code)
        replay_flow_setup(found[0], setup.configs, list(setup.with_decorators))
        # the graph (parsed from the flow's source) is built once here, before any
        # fork: built in each forked task it costs ~5 ms of a trivial task's ~6
        _ = found[0]._graph
    return found
