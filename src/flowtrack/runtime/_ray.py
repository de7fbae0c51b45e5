"""The Ray executor: every task attempt is a Ray task running the task entry point.

``--executor ray`` (or ``FLOWTRACK_RUN_EXECUTOR=ray``) connects to a cluster
(``--ray-address``, else ``RAY_ADDRESS`` or the cluster started last on this machine,
else a new local one) and submits each attempt as the generator task
``_ray_worker.run_attempt`` with the attempt's ``TaskSpec``, the run's code package
and the blob store's URL. The worker streams log lines back and ends with the
manifest; the scheduler records everything as for local runs, so client, lineage,
tracking and resume cannot tell the executors apart (except for each task's
``executor`` and ``ray_node_id``).

- ``@resources(cpu=, memory=, gpu=)`` become Ray's ``num_cpus``, ``memory`` (MB to
  bytes) and ``num_gpus``; a task without it asks for one CPU.
- ``@pypi`` steps run in Ray's ``uv`` runtime environment (see ``_pypi``).
- Retries are the scheduler's (Ray's own are off), so a worker that dies is one
  failed attempt, retried if ``@retry`` asks.
- ``@timeout`` is armed in the task itself; the deadline behind it counts from the
  moment a worker starts the attempt, not from when it was queued.
- A ``@parallel`` gang is one placement group with a bundle per member (strategy
  SPREAD: on separate nodes where the cluster has them), so Ray starts all members
  or none; the group is removed when its last member ends. Each member learns the
  control task's node address (``current.parallel.main_ip``) in the worker.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from .._config import env as config_env
from .._config import settings
from .._errors import FlowtrackError
from ..flow import FlowSpec
from ..store import BlobStore
from ._code import CodeInfo
from ._executor import Attempt, Executor, Finished, LogLine
from ._pypi import PythonEnv, ray_runtime_env
from ._ray_worker import WorkerDone, WorkerLogs, run_attempt
from ._task_job import TaskJob

# what a worker needs to reach the same stores (and object-store credentials) as the
# driver; forwarded as the Ray job's environment variables
FORWARDED_PREFIXES = ("FLOWTRACK_", "AWS_")
CONNECT_TIMEOUT_SECONDS = 5.0
BATCH_TASKS = 8  # events gathered per poll, at most BATCH_WINDOW_SECONDS after the first
BATCH_WINDOW_SECONDS = 0.02


class RayExecutorError(FlowtrackError):
    headline = "Ray executor error"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayExecutorError(
            "--executor ray needs Ray, which is not installed. Install it with "
            "`pip install 'flowtrack[ray]'` on this machine and on every node of the "
            "cluster.") from None
    return ray


def forwarded_environment() -> dict[str, str]:
    """The driver's FLOWTRACK_*/AWS_* variables, with the stores' locations resolved
    to absolute ones, for the workers."""
    cfg = settings()
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}
    store = cfg.store_url if "://" in cfg.store_url else os.path.abspath(cfg.store_url)
    env.update(FLOWTRACK_HOME=str(cfg.home), FLOWTRACK_METADATA=cfg.metadata_url,
               FLOWTRACK_STORE=store, FLOWTRACK_USER=cfg.user)
    endpoint = config_env("FLOWTRACK_S3_ENDPOINT_URL")  # maybe set by Metaflow's name
    if endpoint:
        env["FLOWTRACK_S3_ENDPOINT_URL"] = endpoint
    return env


class RayExecutor(Executor):
    name = "ray"
    uses_local_budget = False  # the cluster schedules by resources

    def __init__(self, flow_cls: type[FlowSpec], store: BlobStore, code: CodeInfo | None,
                 address: str | None, console: Any) -> None:
        if code is None:
            raise RayExecutorError(
                f"Flow {flow_cls.__name__} was not defined in a file, so there is no code to "
                "send to Ray workers. Put the flow in a .py file and run it with "
                "`python flow.py run --executor ray`.")
        self.ray = _import_ray()
        self.flow_cls, self.store, self.code, self.console = flow_cls, store, code, console
        self.store_url = _worker_store_url(store)
        self._connected_here = self._connect(address)
        self._remote = self.ray.remote(num_returns="streaming", max_retries=0)(run_attempt)
        self.running: dict[Any, Attempt] = {}  # ObjectRefGenerator -> attempt
        self._infeasible_warned: set[str] = set()
        self._node_capacity = self._largest_node()
        self._step_remotes: dict[str, Any] = {}
        self._gangs: dict[Any, Any] = {}  # ObjectRefGenerator -> its gang's placement group

    # -- connection --------------------------------------------------------------
    def _connect(self, address: str | None) -> bool:
        """Connect to (or start) a cluster; False if this process was connected
        already (e.g. a notebook that called ``ray.init``): that connection is used
        as it is, and left open at the end."""
        ray = self.ray
        if ray.is_initialized():
            return False
        address = address or None
        for given in (address, os.environ.get("RAY_ADDRESS")):
            if given and given.startswith("ray://"):
                raise RayExecutorError(
                    f"{given} is a Ray Client address, which flowtrack cannot use: its tasks "
                    "stream their output back, and Ray Client does not support that. Run the "
                    "flow on a node of the cluster with --ray-address HOST:PORT (see "
                    "docs/cluster.md).")
        # "local" (Ray's word for "start a new cluster") or nothing to connect to
        starting = address == "local" or (address is None and not os.environ.get("RAY_ADDRESS"))
        _check_reachable(address or os.environ.get("RAY_ADDRESS") or "")
        try:
            ray.init(address=address, namespace="flowtrack", log_to_driver=False,
                     logging_level=logging.WARNING,
                     runtime_env={"env_vars": forwarded_environment()},
                     **({"include_dashboard": False} if starting else {}))
        except ConnectionError as exc:
            raise RayExecutorError(
                f"Could not connect to the Ray cluster at {address or os.environ.get('RAY_ADDRESS')!r}: "
                f"{exc}. Start one with `ray start --head` (see docs/cluster.md) or pass its "
                "address with --ray-address HOST:PORT.") from None
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self.console.info(f"Running tasks on Ray ({len(nodes)} node(s), "
                          f"{ray.cluster_resources().get('CPU', 0):g} CPUs).")
        if len(nodes) > 1 and "://" not in self.store_url:
            self.console.error(
                f"The blob store is the local directory {self.store_url}; workers on other "
                "machines can only use it on a shared filesystem. Use an object store "
                "(FLOWTRACK_STORE=s3://bucket/prefix) for multi-machine clusters.")
        return True

    def _largest_node(self) -> dict[str, float]:
        capacity: dict[str, float] = {}
        for node in self.ray.nodes():
            if node.get("Alive"):
                for key, value in (node.get("Resources") or {}).items():
                    capacity[key] = max(capacity.get(key, 0.0), float(value))
        return capacity

    # -- submitting --------------------------------------------------------------
    def _remote_for(self, attempt: Attempt) -> Any:
        """The remote function with the step's options (made once per step: Ray's
        option handling costs about half a millisecond a call)."""
        step = attempt.spec.step
        remote = self._step_remotes.get(step)
        if remote is None:
            remote = self._step_remotes[step] = self._remote.options(**self._options(attempt))
        return remote

    def _options(self, attempt: Attempt) -> dict[str, Any]:
        spec, resources = attempt.spec, attempt.resources or {}
        cpus = float(resources["cpu"]) if resources.get("cpu") is not None else 1.0
        options: dict[str, Any] = {"num_cpus": cpus,
                                   "name": f"{spec.flow_name}/{spec.run_id}/{spec.step}"}
        if resources.get("memory"):
            options["memory"] = int(float(resources["memory"]) * (1 << 20))
        if resources.get("gpu"):
            options["num_gpus"] = float(resources["gpu"])
        runtime_env: dict[str, Any] = {}
        if spec.python_env is not None:
            runtime_env.update(ray_runtime_env(spec.python_env))
        if not self._connected_here:  # the job's environment is not ours: per task then
            runtime_env["env_vars"] = forwarded_environment()
        if runtime_env:
            options["runtime_env"] = runtime_env
        self._warn_if_infeasible(spec.step, options)
        return options

    def _warn_if_infeasible(self, step: str, options: dict[str, Any]) -> None:
        wanted = {"CPU": options["num_cpus"], "memory": options.get("memory", 0),
                  "GPU": options.get("num_gpus", 0)}
        short = [k for k, v in wanted.items() if v and v > self._node_capacity.get(k, 0.0)]
        if short and step not in self._infeasible_warned:
            self._infeasible_warned.add(step)
            self.console.error(
                f"Step '{step}' asks for more {', '.join(short)} than any node of the Ray "
                "cluster has; its tasks wait until such a node joins (or lower @resources).")

    def prepare_envs(self, envs: list[PythonEnv], log: Callable[[str], None]) -> None:
        for env in envs:  # Ray's uv plugin builds them on the nodes; check they can be
            ray_runtime_env(env)
            log(f"Steps with @pypi({env.describe()}) run in Ray's uv runtime environment.")

    def submit(self, attempt: Attempt) -> None:
        job = TaskJob(attempt.spec, self.code, self.store_url)
        generator = self._remote_for(attempt).remote(job)
        attempt.executor, attempt.host = self.name, ""
        self.running[generator] = attempt

    def submit_gang(self, attempts: list[Attempt]) -> None:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        options = self._options(attempts[0])
        bundle = {"CPU": options["num_cpus"]}
        if options.get("num_gpus"):
            bundle["GPU"] = options["num_gpus"]
        if options.get("memory"):
            bundle["memory"] = options["memory"]
        self._warn_if_gang_infeasible(attempts[0].spec.step, bundle, len(attempts))
        group = self.ray.util.placement_group([dict(bundle) for _ in attempts],
                                              strategy="SPREAD")
        for index, attempt in enumerate(attempts):
            strategy = PlacementGroupSchedulingStrategy(
                placement_group=group, placement_group_bundle_index=index)
            remote = self._remote.options(**options, scheduling_strategy=strategy)
            generator = remote.remote(TaskJob(attempt.spec, self.code, self.store_url))
            attempt.executor, attempt.host = self.name, ""
            self.running[generator] = attempt
            self._gangs[generator] = group

    def _warn_if_gang_infeasible(self, step: str, bundle: dict[str, float], size: int) -> None:
        total = self.ray.cluster_resources()
        short = [k for k, v in bundle.items() if v * size > total.get(k, 0.0) + 1e-9]
        if short and step not in self._infeasible_warned:
            self._infeasible_warned.add(step)
            self.console.error(
                f"The @parallel gang of step '{step}' needs {size} x {bundle} at once, more "
                f"{', '.join(short)} than the Ray cluster has; it starts when enough nodes "
                "join (or lower num_parallel / @resources).")

    def _finished(self, generator: Any) -> None:
        """Forget a generator that ended; the last member of a gang frees its group."""
        del self.running[generator]
        group = self._gangs.pop(generator, None)
        if group is not None and group not in self._gangs.values():
            self.ray.util.remove_placement_group(group)

    def arm_deadline(self, attempt: Attempt, seconds: float) -> None:
        # armed when a worker starts it (a worker reports at once on steps with @timeout)
        attempt.deadline_after_start = seconds

    # -- hearing back ------------------------------------------------------------
    def poll(self, timeout: float) -> list[LogLine | Finished]:
        if not self.running:
            time.sleep(min(timeout, 0.01))
            return []
        ray = self.ray
        pending = list(self.running)
        ready, _ = ray.wait(pending, num_returns=1, timeout=timeout)
        if ready and len(pending) > 1:
            # give the others a moment: the scheduler records what finished in one
            # transaction, which costs about as much for one task as for ten
            ready, _ = ray.wait(pending, num_returns=min(len(pending), BATCH_TASKS),
                                timeout=BATCH_WINDOW_SECONDS)
        events: list[LogLine | Finished] = []
        for generator in ready:
            events.extend(self._next_event(generator))
        return events

    def _next_event(self, generator: Any) -> list[LogLine | Finished]:
        attempt = self.running[generator]
        try:
            item = self.ray.get(next(generator))
        except StopIteration:
            item = None
        except self.ray.exceptions.RayError as exc:
            self._finished(generator)
            return [Finished(attempt, None,
                             attempt.killed_reason or _describe_failure(self.ray, exc))]
        if item is None:
            self._finished(generator)
            return [Finished(attempt, None, "the Ray task ended without reporting a result")]
        self._place(attempt, item.placement)
        events: list[LogLine | Finished] = [LogLine(attempt, stream, text)
                                            for stream, text in item.lines]
        for stream in ("stdout", "stderr"):
            attempt.note_lines(stream, sum(1 for s, _ in item.lines if s == stream))
        if isinstance(item, WorkerDone):
            self._finished(generator)
            attempt.stdout[:] = item.stdout
            attempt.stderr[:] = item.stderr
            manifest = None if attempt.killed_reason else item.manifest
            events.append(Finished(attempt, manifest,
                                   attempt.killed_reason or item.exit_description))
        else:
            assert isinstance(item, WorkerLogs)
        return events

    def _place(self, attempt: Attempt, placement: dict[str, Any]) -> None:
        """Learn where the attempt runs (its first report) and start its deadline."""
        if attempt.placement:
            return
        attempt.placement = {k: placement[k]
                             for k in ("ray_node_id", "ray_worker_pid", "ray_resources")}
        attempt.pid, attempt.host = placement.get("pid"), placement.get("host", "")
        if attempt.deadline_after_start is not None:
            attempt.deadline = time.monotonic() + attempt.deadline_after_start

    # -- stopping ----------------------------------------------------------------
    def cancel(self, attempt: Attempt, reason: str) -> None:
        attempt.killed_reason = reason
        for generator, running in self.running.items():
            if running is attempt:
                self.ray.cancel(generator, force=True)

    def shutdown(self) -> None:
        for generator, attempt in list(self.running.items()):
            attempt.killed_reason = attempt.killed_reason or "the run was interrupted"
            self.ray.cancel(generator, force=True)

    def close(self) -> None:
        # disconnect; a cluster this run started (a local one) stops with it
        if self._connected_here:
            self.ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail fast on a cluster address nothing listens on (Ray itself keeps retrying
    for minutes)."""
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        raise RayExecutorError(
            f"No Ray cluster answers at {address} ({exc.strerror or exc}). Start one with "
            "`ray start --head --port PORT` (see docs/cluster.md), or check --ray-address / "
            "RAY_ADDRESS.") from None


def _worker_store_url(store: BlobStore) -> str:
    url = store.url
    return url if "://" in url else os.path.abspath(url)


def _describe_failure(ray: Any, exc: BaseException) -> str:
    """Why a Ray task ended without a manifest, in one line."""
    errors = ray.exceptions
    name = type(exc).__name__
    if isinstance(exc, errors.RayTaskError):
        cause = getattr(exc, "cause", None)
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        return f"the Ray worker could not run the task ({detail.strip()})"
    if isinstance(exc, (errors.WorkerCrashedError, errors.NodeDiedError, errors.OwnerDiedError)):
        return f"the Ray worker running the task died ({name})"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"the Ray task failed ({name}{': ' + first_line if first_line else ''})"
