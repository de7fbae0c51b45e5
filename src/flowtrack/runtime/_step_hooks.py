"""What runs around a step's body in the task process besides the body itself: the
hooks of step and flow decorators (Metaflow's extension API: ``flow_init``,
``task_pre_step``, ``task_decorate``, ``task_post_step``, ``task_exception``,
``task_finished``) and user step decorators (``pre_step`` / ``post_step``).

Order, as in Metaflow: ``flow_init`` of the flow's extension decorators, then each
step decorator's ``task_pre_step`` and ``task_decorate``; then the user step
decorators, outermost (top) first, around the (decorated) body, then their
``post_step`` in reverse order; then ``task_post_step``. When the step fails, every
decorator's ``task_exception`` is asked whether it handles the failure. After the
artifacts are stored, ``task_finished``. flowtrack's built-in decorators have no-op
hooks (the scheduler acts on them), so only extensions and user code run here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._errors import StepError
from ..flow import FlowDecorator, StepNode, UserStepDecorator, flow_decorators
from ..flow._user_decorators import UserDecoratorError
from ._model import TaskSpec

# Metaflow passes objects flowtrack has no counterpart of (datastores, the metadata
# provider, the environment); the hooks get None for them.
_NO_COUNTERPART = None


def _echo(*args: Any, **_kwargs: Any) -> None:
    print(*args)


def run_flow_inits(flow: Any, spec: TaskSpec) -> None:
    """``flow_init`` of the flow's extension decorators, with the run's option values."""
    decorators: list[FlowDecorator] = flow_decorators(type(flow))
    for deco in decorators:
        deco.flow_init(flow, flow._graph, _NO_COUNTERPART, _NO_COUNTERPART, _NO_COUNTERPART,
                       _echo, _echo, dict(spec.flow_options))


def run_step_body(flow: Any, node: StepNode, spec: TaskSpec, inputs: Any) -> None:
    """Run the step's body with every decorator hook and user step decorator."""
    graph, retries = flow._graph, spec.max_user_code_retries
    decorators = node.decorators
    _pre_step_hooks(flow, spec, decorators, inputs)
    body: Callable[..., Any] = getattr(flow, spec.step)
    for deco in decorators:
        body = deco.task_decorate(body, flow, graph, spec.attempt, retries, spec.ubf_context)
    wrappers = list(getattr(node.func, "wrappers", ()))
    if wrappers:
        _run_wrapped(flow, node, wrappers, body, inputs)
    else:
        body() if inputs is None else body(inputs)
    for deco in decorators:
        deco.task_post_step(spec.step, flow, graph, spec.attempt, retries)


def _pre_step_hooks(flow: Any, spec: TaskSpec, decorators: list[Any], inputs: Any) -> None:
    for deco in decorators:
        deco.task_pre_step(spec.step, _NO_COUNTERPART, _NO_COUNTERPART, spec.run_id,
                           spec.task_id, flow, flow._graph, spec.attempt,
                           spec.max_user_code_retries, spec.ubf_context, inputs)


def run_control_task(flow: Any, node: StepNode, spec: TaskSpec) -> int:
    """The control task of an unbounded foreach: the decorators' hooks, and the count
    of the input's items (one mapper task each); the step's body does not run."""
    _pre_step_hooks(flow, spec, node.decorators, None)
    items = flow.input
    try:
        count = sum(1 for _ in items)
    except TypeError:
        raise StepError(f"Unbounded foreach into step '{node.name}': the input, a "
                        f"{type(items).__name__}, cannot be iterated; an "
                        "UnboundedForeachInput must define __iter__.") from None
    if count == 0:
        raise StepError(f"Unbounded foreach into step '{node.name}': the input has no items, "
                        "so there is nothing to run.")
    for deco in node.decorators:
        deco.task_post_step(spec.step, flow, flow._graph, spec.attempt,
                            spec.max_user_code_retries)
    return count


def exception_handled(flow: Any, node: StepNode, spec: TaskSpec, exc: BaseException) -> bool:
    """Whether a step decorator's ``task_exception`` takes the failure (every
    decorator is asked, as in Metaflow)."""
    handled = False
    for deco in node.decorators:
        handled = bool(deco.task_exception(exc, spec.step, flow, flow._graph, spec.attempt,
                                           spec.max_user_code_retries)) or handled
    return handled


def run_finished_hooks(flow: Any, node: StepNode, spec: TaskSpec, ok: bool) -> None:
    for deco in node.decorators:
        deco.task_finished(spec.step, flow, flow._graph, ok, spec.attempt,
                           spec.max_user_code_retries)


def _run_wrapped(flow: Any, node: StepNode, wrappers: list[UserStepDecorator],
                 body: Callable[..., Any], inputs: Any) -> None:
    """The user step decorators around ``body`` (the decorator nearest ``@step`` is
    innermost). A ``pre_step`` may replace the body or skip it; ``post_step`` gets
    the body's exception and decides what is raised."""
    entered: list[UserStepDecorator] = []
    replacement: Callable[..., Any] | None = None
    next_args: Any = None
    for wrapper in reversed(wrappers):  # the top decorator's pre_step first
        wrapper.skip_step = False  # per task, whatever an earlier task in this process did
        replacement = wrapper.pre_step(node.name, flow, inputs)
        entered.append(wrapper)
        if wrapper.skip_step:
            next_args = wrapper.skip_step
            break
        if replacement:
            break
    error: Exception | None = None
    body_failed = False
    try:
        if not next_args:
            if replacement:
                next_args = (replacement(flow) if inputs is None
                             else replacement(flow, inputs)) or None
            else:
                body() if inputs is None else body(inputs)
    except Exception as exc:  # noqa: BLE001 - handed to the decorators' post_step
        error, body_failed = exc, True
    for wrapper in reversed(entered):
        error, next_args = _post_step_verdict(wrapper, node.name, flow, error, next_args)
    if error is not None:
        raise error
    if (next_args is not None and next_args is not False) or body_failed:
        make_default_transition(flow, node, next_args)


def _post_step_verdict(wrapper: UserStepDecorator, step_name: str, flow: Any,
                       error: Exception | None, next_args: Any) -> tuple[Exception | None, Any]:
    """(the exception to go on with, the ``self.next`` arguments) after ``post_step``."""
    try:
        verdict = wrapper.post_step(step_name, flow, error)
    except Exception as raised:  # noqa: BLE001 - post_step raising is its verdict
        verdict = raised
    if verdict is None:
        return None, next_args
    if isinstance(verdict, Exception):
        return verdict, next_args
    if isinstance(verdict, tuple) and len(verdict) == 2:
        return verdict[0], verdict[1] if verdict[1] is not None else next_args
    if isinstance(verdict, tuple) and len(verdict) == 3 and isinstance(verdict[2], Exception):
        raise verdict[2]
    raise UserDecoratorError(
        f"{wrapper}.post_step returned {verdict!r}; it must return None, an exception, or "
        "(exception or None, self.next arguments or None).")


def make_default_transition(flow: Any, node: StepNode, next_args: Any = True) -> None:
    """Call ``self.next`` for a step whose body did not: with the arguments a
    decorator gave, or the ones the step's own ``self.next`` would have used."""
    if not node.out_funcs:
        return
    object.__setattr__(flow, "_transition", None)
    targets = [getattr(flow, name) for name in node.out_funcs]
    if isinstance(next_args, dict) and next_args:
        flow.next(*targets, **next_args)
        return
    if next_args not in (True, None, {}) and not isinstance(next_args, dict):
        raise UserDecoratorError(f"step '{node.name}': the self.next arguments a decorator "
                                 f"gave must be True or a dict; got {next_args!r}.")
    if node.parallel_foreach or node.condition:
        kind = "num_parallel" if node.parallel_foreach else "condition"
        raise StepError(f"step '{node.name}' was skipped by a decorator, but its self.next "
                        f"needs {kind}=...; the decorator must give the self.next arguments "
                        "as a dict.")
    if node.foreach_param:
        flow.next(*targets, foreach=node.foreach_param)
    else:
        flow.next(*targets)
