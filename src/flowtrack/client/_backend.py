"""The client's view of the store: one database and blob store per configuration,
plus the queries the Flow/Run/Step/Task objects are built from."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .._config import settings
from .._util import notify_artifact_read
from ..lineage import (
    EXPERIMENT_TYPE,
    RUN_TYPE,
    TASK_TYPE,
    Database,
    LineageSession,
    Node,
    TypeKind,
    contexts,
    executions,
)
from ..store import BlobRef, BlobStore


@dataclass
class Backend:
    db: Database
    store: BlobStore

    def session(self, write: bool = False) -> LineageSession:
        return LineageSession(self.db, write=write)

    def flows(self) -> list[Node]:
        with self.session() as s:
            exp = s.find_type_id(TypeKind.CONTEXT, EXPERIMENT_TYPE)
            if exp is None:
                return []
            return s.nodes("context", contexts.c.type_id == exp,
                           s.property_filter("context", "kind", "flow"))

    def flow(self, name: str) -> Node | None:
        with self.session() as s:
            exp = s.find_type_id(TypeKind.CONTEXT, EXPERIMENT_TYPE)
            return None if exp is None else s.node_by_name("context", exp, name)

    def runs(self, flow_id: int, limit: int, offset: int) -> list[Node]:
        """One page of a flow's runs, newest first."""
        with self.session() as s:
            return s.child_contexts(flow_id, order_by=contexts.c.id.desc(), limit=limit,
                                    offset=offset)

    def run(self, flow_name: str, run_id: str) -> Node | None:
        with self.session() as s:
            rt = s.find_type_id(TypeKind.CONTEXT, RUN_TYPE)
            return None if rt is None else s.node_by_name("context", rt, f"{flow_name}/{run_id}")

    def tasks(self, run: Node, step: str | None = None) -> list[Node]:
        """The tasks of a run (of one step), found through their pathspec names."""
        with self.session() as s:
            tt = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
            prefix = f"{run.name}/{step}/" if step is not None else f"{run.name}/"
            return s.nodes("execution", executions.c.type_id == tt,
                           s.name_prefix("execution", prefix))

    def task(self, pathspec: str) -> Node | None:
        with self.session() as s:
            tt = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
            return None if tt is None else s.node_by_name("execution", tt, pathspec)

    def artifacts(self, ids: list[int]) -> list[Node]:
        with self.session() as s:
            return s.nodes_by_ids("artifact", ids)

    def update_run_tags(self, run_ctx: int,
                        change: Callable[[Node], Iterable[str]]) -> list[str]:
        """Set a run's Metaflow tags to ``change(run)``, reading the run and writing its
        tags in one transaction with the run's row locked, so concurrent changes never
        lose each other's tags; if ``change`` raises, nothing is written. The tags are
        also the run's tracking tags ``tag:<t>`` with an empty value, which follow
        (removed ones go unless given a value). Returns the tags as written."""
        with self.session(write=True) as s:
            s.conn.execute(select(contexts.c.id).where(contexts.c.id == run_ctx)
                           .with_for_update())  # SQLite: its write transactions lock
            [node] = s.nodes_by_ids("context", [run_ctx])
            old = set(node.properties.get("tags") or [])
            new = set(change(node))
            if new == old:
                return sorted(old)
            s.set_properties("context", run_ctx, {"tags": sorted(new)},
                             {f"tag:{t}": "" for t in sorted(new - old)})
            s.delete_properties("context", run_ctx, [
                f"tag:{t}" for t in sorted(old - new)
                if node.custom_properties.get(f"tag:{t}") == ""])
            s.commit()
            return sorted(new)

    def load_value(self, artifact: Node) -> Any:
        p = artifact.properties
        value = self.store.get_value(BlobRef(p["digest"], int(p["size"]), p.get("inline")))
        notify_artifact_read(artifact.id)
        return value

    def load_bytes(self, digest: str) -> bytes:
        return self.store.get_bytes(digest)


_backends: dict[tuple[str, str], Backend] = {}


def backend() -> Backend:
    """The backend for the current FLOWTRACK_* configuration."""
    cfg = settings()
    key = (cfg.metadata_url, cfg.store_url)
    found = _backends.get(key)
    if found is None:
        store = BlobStore(cfg.store_url, verify_reads=cfg.verify_reads)
        found = _backends[key] = Backend(Database.open(cfg.metadata_url), store)
    return found


def describe_metadata() -> str:
    cfg = settings()
    kind = "local" if cfg.metadata_url.startswith("sqlite") else cfg.metadata_url.split(":", 1)[0]
    return f"{kind}@{cfg.home if cfg.is_default_metadata else cfg.metadata_url}"
