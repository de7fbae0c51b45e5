"""``FlowSpec`` and ``@step``: how a flow is written (Metaflow's authoring API).

A flow instance does no I/O itself. While a task runs, the runtime attaches an
``ArtifactSource`` for the task's inherited artifacts (and one per branch for a
join); reading ``self.x`` loads lazily through it, assigning ``self.x = v`` records
an output in the instance's ``__dict__``. ``self.next(...)`` only records the
transition, checked by the runtime against the graph.

Private members that ported Metaflow code reads keep Metaflow's meaning:
``self._current_step`` (the running step's name), ``self._foreach_stack`` (a list of
``ForeachFrame``) and ``self._graph`` (the class's ``FlowGraph``, on class and instance).

Flow-level attributes are immutable in steps, with Metaflow's rules: assigning (or
deleting) a Parameter, an IncludeFile or a class-level constant raises
``AttributeError``. A constant is a public class attribute (inherited ones too) that
is not a Parameter, function, method, property or class (``FlowSpec._constants()``).
"""

from __future__ import annotations

import os
import reprlib
import sys
import types
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from .._errors import MergeArtifactsError, StepError
from ._graph import FlowGraph
from ._params import RESERVED_ATTRIBUTES as _RESERVED_ATTRIBUTES
from ._params import Parameter, flow_context


def _merge_error(message: str, artifact_names: list[str]) -> MergeArtifactsError:
    """A ``MergeArtifactsError`` naming the artifacts concerned in ``artifact_names``, as
    Metaflow's merge exceptions do."""
    error = MergeArtifactsError(message)
    error.artifact_names = artifact_names  # type: ignore[attr-defined]
    return error


class ForeachFrame(NamedTuple):
    """One enclosing foreach of a task, as in Metaflow's ``self._foreach_stack``:
    the first step inside the foreach, the attribute it splits over, how many tasks
    it made, this task's index and a short string of this task's item."""

    step: str | None = None
    var: str | None = None
    num_splits: int | None = None
    index: int | None = None  # type: ignore[assignment]  # (shadows tuple.index, as in Metaflow)
    value: str | None = None


# Public FlowSpec members never taken for constants (Metaflow's ``_NON_PARAMETERS``)
_NON_CONSTANTS = frozenset({"cmd", "foreach_stack", "index", "input", "script_name", "name"})
# Class attribute values that are behaviour, not constants (as Metaflow checks them)
_NOT_CONSTANTS = (types.MethodType, types.FunctionType, property, type)


# Metaflow keeps at most this many characters of a foreach item in its frame
MAX_FRAME_VALUE_CHARS = 30


def _foreach_var(node: Any) -> str | None:
    """The attribute a foreach splits over; Metaflow's for a ``num_parallel`` split."""
    if node is None:
        return None
    return "_parallel_ubf_iter" if node.parallel_foreach else node.foreach_param


def frame_value(item: Any) -> str:
    """A foreach item as Metaflow shows it in a frame: itself if a str, int, float or
    bool, else its ``reprlib`` form, as a string of at most 30 characters."""
    text = item if isinstance(item, (str, int, float, bool)) else reprlib.Repr().repr(item)
    return str(text)[:MAX_FRAME_VALUE_CHARS]


class ArtifactSource(ABC):
    """Read access to one task's visible artifacts (implemented by the runtime).

    To add a new kind of source (another executor's data plane), implement these
    methods; the flow never learns where values come from.
    """

    step_name: str = ""

    @abstractmethod
    def names(self) -> Iterable[str]:
        """Names of the artifacts visible to this task (parameters excluded)."""

    @abstractmethod
    def load(self, name: str) -> Any:
        """The value of artifact ``name``; raises KeyError when there is none."""

    @abstractmethod
    def digest(self, name: str) -> str | None:
        """The content digest of artifact ``name`` (None when absent)."""

    @abstractmethod
    def parameter(self, name: str) -> Any:
        """The run's value of parameter ``name``."""

    def foreach_input(self) -> Any:
        return None

    def foreach_index(self) -> int | None:
        return None

    def foreach_frames(self) -> list[tuple[int | None, int | None, Any]]:
        """(index, num_splits, value) per enclosing foreach, outermost first."""
        return []


def step(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a method of a ``FlowSpec`` as a step of the flow."""
    func.is_step = True  # type: ignore[attr-defined]
    func.decorators = []  # type: ignore[attr-defined]
    func.wrappers = []  # type: ignore[attr-defined]  # user step decorators (pre/post_step)
    func.config_decorators = []  # type: ignore[attr-defined]  # step mutators
    func.name = func.__name__  # type: ignore[attr-defined]
    return func


# Set by the flowtrack package root: runs the command line for a flow class.
_cli_entry: Callable[[type], Any] | None = None


def register_cli(entry: Callable[[type], Any]) -> None:
    global _cli_entry
    _cli_entry = entry


class _ClassGraph:
    """``FlowSpec._graph``: the flow class's graph, built on first use and kept per
    class, read the same on the class and on its instances (as Metaflow's)."""

    def __get__(self, instance: Any, owner: type) -> FlowGraph:
        graph = FlowSpec._graph_cache.get(owner)
        if graph is None:
            graph = FlowSpec._graph_cache[owner] = FlowGraph(owner)
        return graph


class FlowSpec:
    """Base class of flows. ``MyFlow()`` at the bottom of a script runs the CLI."""

    _graph_cache: dict[type, FlowGraph] = {}
    _graph = _ClassGraph()

    def __init__(self, use_cli: bool = True) -> None:
        object.__setattr__(self, "_source", None)
        object.__setattr__(self, "_transition", None)
        object.__setattr__(self, "_merged", {})  # name -> index of the input it came from
        object.__setattr__(self, "_inputs", None)  # the join's Inputs, while it runs
        object.__setattr__(self, "_loaded", {})  # name -> digest of values read from inputs
        object.__setattr__(self, "_current_step", None)
        if use_cli:
            if _cli_entry is None:
                raise RuntimeError("the flowtrack command line is not available")
            with flow_context(type(self)):  # deploy-time defaults see this flow's name
                _cli_entry(type(self))

    # -- class-level information -------------------------------------------------
    @classmethod
    def _parameters(cls) -> list[Parameter]:
        seen: dict[str, Parameter] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Parameter):
                    if value.definition_error is not None:
                        raise value.definition_error
                    seen[value.attr_name] = value
        return list(seen.values())

    @classmethod
    def _flow_level_kind(cls, name: str) -> str | None:
        """What ``name`` is on the flow class if steps may not assign it: "a Parameter",
        "an IncludeFile" or "a class-level constant"; None for anything else."""
        if name.startswith("_") or name in _NON_CONSTANTS:
            return None
        if not any(name in vars(klass) for klass in cls.__mro__):
            return None  # not a class attribute (the metaclass's are not either)
        try:
            value = getattr(cls, name)
        except Exception:  # noqa: BLE001 - a descriptor failing on the class: not a constant
            return None
        if isinstance(value, Parameter):
            return "an IncludeFile" if value.IS_INCLUDE_FILE else "a Parameter"
        if isinstance(value, _NOT_CONSTANTS):
            return None
        return "a class-level constant"

    @classmethod
    def _constants(cls) -> dict[str, Any]:
        """The flow's class-level constants by name (Metaflow's rule: public class
        attributes that are not Parameters, functions, methods, properties or classes)."""
        return {name: getattr(cls, name) for name in dir(cls)
                if cls._flow_level_kind(name) == "a class-level constant"}

    def _immutable_error(self, name: str, kind: str, verb: str) -> AttributeError:
        step = self.__dict__.get("_current_step")
        where = f" in step '{step}'" if step else ""
        return AttributeError(
            f"self.{name} cannot be {verb}{where}: '{name}' is {kind} of flow {self.name}. "
            "Flow level attributes and Parameters are not modifiable (as in Metaflow); store "
            f"the value under another name instead (e.g. self.my_{name.lower()} = ...)")

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def script_name(self) -> str:
        return os.path.basename(sys.modules[type(self).__module__].__file__ or "")

    # -- artifacts ---------------------------------------------------------------
    def _parameter_value(self, attr: str) -> Any:
        source = self.__dict__.get("_source")
        if source is None:
            param = getattr(type(self), attr)
            return param.default_value()
        return source.parameter(attr)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: an artifact not assigned in this task
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)
        merged_from = self.__dict__.get("_merged", {}).get(name)
        source = self.__dict__.get("_source")
        if merged_from is not None:
            source = self.__dict__["_inputs"][merged_from]._source
        if source is not None:
            try:
                value = source.load(name)
            except KeyError:
                pass
            else:
                # kept on the instance (as Metaflow does), so changes made in place are
                # persisted at the end of the step; unchanged values are not stored again
                object.__setattr__(self, name, value)
                self.__dict__.setdefault("_loaded", {})[name] = source.digest(name)
                return value
        raise AttributeError(self._missing_message(name))

    def _missing_message(self, name: str) -> str:
        step = self.__dict__.get("_current_step") or "?"
        node = self._graph.nodes.get(step)
        hint = ""
        if node is not None and node.is_join:
            hint = (" After a join only parameters and merged or assigned artifacts are visible;"
                    " read it from a branch (inputs[0]." + name + ") or call "
                    "self.merge_artifacts(inputs) first.")
        return f"Flow {self.name} has no artifact '{name}' in step '{step}'.{hint}"

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if name in _RESERVED_ATTRIBUTES:
            raise StepError(f"'{name}' is a reserved attribute of FlowSpec and cannot be "
                            f"assigned in step '{self.__dict__.get('_current_step')}'; use another "
                            "name.")
        kind = self._flow_level_kind(name)
        if kind is not None:
            raise self._immutable_error(name, kind, "assigned")
        self.__dict__.get("_loaded", {}).pop(name, None)  # assigned now, not as loaded
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        kind = None if name.startswith("_") else self._flow_level_kind(name)
        if kind is not None:
            raise self._immutable_error(name, kind, "deleted")
        object.__delattr__(self, name)

    @property
    def input(self) -> Any:
        source = self.__dict__.get("_source")
        return source.foreach_input() if source is not None else None

    @property
    def index(self) -> int | None:
        source = self.__dict__.get("_source")
        return source.foreach_index() if source is not None else None

    def __iter__(self) -> Iterator[Any]:
        """The flow's step functions, in graph order, each with its ``name``
        (Metaflow's legacy ``for step in flow``)."""
        cls = type(self)
        return iter([getattr(cls, node.name) for node in cls._graph])

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """(index, num_splits, value) for each enclosing foreach, outermost first."""
        source = self.__dict__.get("_source")
        return source.foreach_frames() if source is not None else []

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """Metaflow's frame list: a ``ForeachFrame`` per enclosing foreach, outermost
        first. Like ``foreach_stack()`` it reads the foreach lists of the task."""
        source = self.__dict__.get("_source")
        if source is None:
            return []
        frames = source.foreach_frames()
        graph, step = self._graph, self.__dict__.get("_current_step")
        splits: list[str | None] = []
        if step is not None and step in graph:
            splits = list(graph.open_foreaches(step))
        if len(splits) != len(frames):  # not a step of this graph: positions only
            splits = [None] * len(frames)
        stack = []
        for split, (index, num_splits, item) in zip(splits, frames):
            node = graph[split] if split is not None else None
            stack.append(ForeachFrame(
                step=node.out_funcs[0] if node is not None and node.out_funcs else None,
                var=_foreach_var(node),
                num_splits=num_splits, index=index, value=frame_value(item)))
        return stack

    # -- transitions -------------------------------------------------------------
    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None,
             num_parallel: int | None = None) -> None:
        """Declare where the flow goes after this step (must be the last statement)."""
        if self.__dict__.get("_transition") is not None:
            raise StepError(f"self.next() called twice in step '{self.__dict__.get('_current_step')}';"
                            " call it exactly once, as the last statement.")
        if len(targets) == 1 and isinstance(targets[0], dict):
            names: list[str] | dict[str, str] = {
                str(k): _target_name(v) for k, v in targets[0].items()}
        else:
            names = [_target_name(t) for t in targets]
        if num_parallel is not None and (isinstance(num_parallel, bool)
                                         or not isinstance(num_parallel, int) or num_parallel < 1):
            raise StepError(f"self.next(..., num_parallel={num_parallel!r}) in step "
                            f"'{self.__dict__.get('_current_step')}': num_parallel must be a "
                            "positive integer, the number of tasks to start together.")
        object.__setattr__(self, "_transition", (names, foreach, condition, num_parallel))

    # -- joins -------------------------------------------------------------------
    def merge_artifacts(self, inputs: Inputs, exclude: Iterable[str] | None = None,
                        include: Iterable[str] | None = None) -> None:
        """Copy into this join every artifact on which all branches agree.

        Artifacts already assigned in this step are left alone. A name whose value
        differs between branches raises ``MergeArtifactsError`` unless excluded or
        assigned first. ``include`` limits merging to the named artifacts.
        """
        if not isinstance(inputs, Inputs):
            raise MergeArtifactsError("merge_artifacts() must be called in a join step with its "
                                      "`inputs` argument: self.merge_artifacts(inputs).")
        if exclude and include:
            raise MergeArtifactsError("merge_artifacts(): give include= or exclude=, not both.")
        excluded = set(exclude or ())
        wanted = set(include) if include is not None else None
        candidates: dict[str, dict[str | None, int]] = {}
        for position, branch in enumerate(inputs):
            source = branch._source
            for name in source.names():
                if wanted is not None and name not in wanted:
                    continue
                candidates.setdefault(name, {}).setdefault(source.digest(name), position)
        if wanted is not None:
            # as Metaflow's hasattr(): what the join already has is not missing
            missing = sorted(n for n in wanted - set(candidates)
                             if n not in self.__dict__ and self._flow_level_kind(n) is None)
            if missing:
                raise _merge_error(
                    f"merge_artifacts(include=...) names artifact(s) {', '.join(missing)} that no "
                    f"input of step '{self.__dict__.get('_current_step')}' has.", missing)
        already = self.__dict__["_merged"]
        merged, conflicts = {}, []
        for name, by_digest in candidates.items():
            if (name in excluded or name in self.__dict__ or name in already
                    or self._flow_level_kind(name) is not None):
                continue  # Parameters and constants are never merged (as in Metaflow)
            if len(by_digest) > 1:
                conflicts.append(name)
                continue
            merged[name] = next(iter(by_digest.values()))
        if conflicts:  # nothing is merged when anything conflicts
            raise _merge_error(
                f"Step '{self.__dict__.get('_current_step')}' cannot merge artifact(s) "
                f"{', '.join(sorted(conflicts))}: their values differ between the joined "
                "branches. Assign them in the join before merging (self.<name> = ...), or pass "
                "exclude=[...].", sorted(conflicts))
        already.update(merged)


def _target_name(target: Any) -> str:
    name = getattr(target, "__name__", None)
    if name is None or getattr(target, "is_step", False) is not True:
        raise StepError(f"self.next() got {target!r}; pass steps as self.<step_name>.")
    return str(name)


class BranchView:
    """One input of a join: read-only attribute access to a branch's artifacts."""

    def __init__(self, source: ArtifactSource) -> None:
        object.__setattr__(self, "_source", source)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._source.load(name)
        except KeyError:
            raise AttributeError(f"Branch '{self._source.step_name}' has no artifact "
                                 f"'{name}'.") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise StepError("Join inputs are read-only; assign to self in the join step instead.")

    @property
    def input(self) -> Any:
        return self._source.foreach_input()

    @property
    def index(self) -> int | None:
        return self._source.foreach_index()

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        return self._source.foreach_frames()

    def __repr__(self) -> str:
        return f"<input from step {self._source.step_name}>"


class Inputs:
    """The ``inputs`` of a join: iterate, index (``inputs[0]``) or name a branch
    (``inputs.train``, for static splits)."""

    def __init__(self, sources: list[ArtifactSource]) -> None:
        self._branches = [BranchView(s) for s in sources]

    def __iter__(self) -> Iterator[BranchView]:
        return iter(self._branches)

    def __len__(self) -> int:
        return len(self._branches)

    def __getitem__(self, index: int) -> BranchView:
        return self._branches[index]

    def __getattr__(self, name: str) -> BranchView:
        if name.startswith("_"):
            raise AttributeError(name)
        for branch in self._branches:
            if branch._source.step_name == name:
                return branch
        raise AttributeError(f"This join has no input from step '{name}'; inputs come from "
                             f"{', '.join(b._source.step_name for b in self._branches)}.")
