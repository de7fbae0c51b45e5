"""The data that travels between scheduler, executors and the task entry point.

Everything here is plain, picklable data: a ``TaskSpec`` says what to run with which
input artifact references, a ``Manifest`` says what a task did. Only digests and
small inline values travel; artifact values stay in the blob store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..cards._render import RenderedCard
from ..flow import Parallel, StepDecorator
from ..store import BlobRef
from ._pypi import PythonEnv


@dataclass(frozen=True)
class ArtifactRef:
    """A stored artifact: its lineage id (None until recorded) and where its bytes are."""

    id: int | None
    digest: str
    size: int
    inline: bytes | None = None

    @property
    def blob(self) -> BlobRef:
        return BlobRef(self.digest, self.size, self.inline)


@dataclass(frozen=True)
class Frame:
    """One enclosing split of a task: a foreach (with its list) or a static split."""

    kind: str  # "foreach" or "split"
    step: str
    index: int | None  # None: the control task of an unbounded foreach
    num_splits: int
    split_task: str  # task id of the splitting task
    items: ArtifactRef | None = None  # the foreach list artifact
    unbounded: bool = False  # an UnboundedForeachInput: steps see None as num_splits

    def to_json(self) -> list[Any]:
        return [self.kind, self.step, self.index, self.num_splits, self.split_task]


@dataclass
class BranchInput:
    """One input of a join task: the parent task's visible artifacts."""

    step: str
    task_id: str
    namespace: dict[str, ArtifactRef]
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class FlowSetup:
    """What the launching process did to the flow class after importing it: the
    resolved configs (decorators may use them) and the ``--with`` decorators, which
    mutators see. A process that loads the flow from its code package (a Ray worker,
    a @pypi step's interpreter) does the same before running a task."""

    configs: dict[str, Any] = field(default_factory=dict)
    with_decorators: tuple[StepDecorator, ...] = ()

    @property
    def key(self) -> str:
        """Equal for equal setups (a worker keeps one prepared flow class per key)."""
        text = json.dumps(self.configs, sort_keys=True, default=repr) + repr(self.with_decorators)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TaskSpec:
    """Everything the task entry point needs to run one attempt of one task."""

    flow_name: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    namespace: dict[str, ArtifactRef]
    parameters: dict[str, ArtifactRef]
    frames: tuple[Frame, ...] = ()
    branches: list[BranchInput] = field(default_factory=list)
    max_num_splits: int = 100
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float | None = None
    catch_var: str | None = None
    catch_print: bool = True
    is_last_attempt: bool = True
    fallback_error: ErrorInfo | None = None  # set for @catch's fallback attempt
    origin_run_id: str | None = None
    tags: tuple[str, ...] = ()
    user: str = ""
    tracking_run_id: str = ""  # the flow run's tracking run id (its context's external id)
    python_env: PythonEnv | None = None  # the step's own packages (@pypi / @pypi_base)
    project: dict[str, Any] | None = None  # current's @project fields (None: no project)
    parallel: Parallel | None = None  # the task's place in its @parallel gang
    cards: list[dict[str, Any]] = field(default_factory=list)  # the step's @card attributes
    secrets: dict[str, Any] | None = None  # the step's @secrets attributes (fetched in the task)
    max_user_code_retries: int = 0  # the step's @retry times (decorator hooks get it)
    flow_options: dict[str, Any] = field(default_factory=dict)  # extension flow decorators'
    flow_setup: FlowSetup = field(default_factory=FlowSetup)  # replayed by code-package loads
    ubf_context: str | None = None  # UBF_CONTROL / UBF_TASK in an unbounded foreach

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass
class ErrorInfo:
    """A task failure, as strings (exceptions themselves may not pickle): ``type`` is
    the class as Metaflow records it (``module.Name``), ``message`` its ``str()``."""

    type: str
    message: str
    traceback: str = ""

    def __str__(self) -> str:
        """For the console: the class by its own name, as in ``KeyError: 'x'``."""
        return f"{self.type.rsplit('.', 1)[-1]}: {self.message}"


@dataclass
class OutputRecord:
    """An artifact a task wrote."""

    digest: str
    size: int
    inline: bytes | None
    python_type: str
    preview: str
    rich_preview: dict[str, Any] | None = None  # a table or an image for the UI


@dataclass
class TaskTracking:
    """What a step logged through the tracking API (flowtrack.log_metric...)."""

    points: list[tuple[str, float, int, int]] = field(default_factory=list)  # key, value, ms, step
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, str, int]] = field(default_factory=list)  # path, digest, size
    models: list[tuple[str, str]] = field(default_factory=list)  # path, flavor
    inputs: list[tuple[Any, str | None]] = field(default_factory=list)  # Dataset, context

    def __bool__(self) -> bool:
        return bool(self.points or self.params or self.tags or self.files or self.models
                    or self.inputs)


@dataclass
class Manifest:
    """What one attempt did: outputs, reads, the transition taken, or the error."""

    ok: bool
    outputs: dict[str, OutputRecord] = field(default_factory=dict)
    merged: dict[str, ArtifactRef] = field(default_factory=dict)
    reads: set[int] = field(default_factory=set)
    num_splits: int | None = None
    unbounded: bool = False  # the foreach went over an UnboundedForeachInput (not counted)
    switch_target: str | None = None
    error: ErrorInfo | None = None
    caught: bool = False
    started_ms: int = 0
    finished_ms: int = 0
    tracking: TaskTracking | None = None
    packages: dict[str, str] | None = None  # versions a @pypi step really imported
    cards: list[RenderedCard] = field(default_factory=list)  # the cards rendered, or failed
