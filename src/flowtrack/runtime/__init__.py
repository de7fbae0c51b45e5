"""Running flows: scheduler, task entry point, executors, recording and resume."""

from ._executor import Attempt, Executor, Finished, LogLine
from ._local import LocalExecutor
from ._model import (
    ArtifactRef,
    BranchInput,
    ErrorInfo,
    Frame,
    Manifest,
    OutputRecord,
    TaskSpec,
)
from ._run import EXECUTORS, RunRequest, resume_run, start_run
from ._scheduler import RunOptions, Scheduler
from ._secrets import SecretsError, SecretsProvider, get_secret
from ._task import CaughtException, run_task

__all__ = [
    "EXECUTORS",
    "ArtifactRef",
    "Attempt",
    "BranchInput",
    "CaughtException",
    "ErrorInfo",
    "Executor",
    "Finished",
    "Frame",
    "LocalExecutor",
    "LogLine",
    "Manifest",
    "OutputRecord",
    "RunOptions",
    "RunRequest",
    "Scheduler",
    "SecretsError",
    "SecretsProvider",
    "TaskSpec",
    "get_secret",
    "resume_run",
    "run_task",
    "start_run",
]
