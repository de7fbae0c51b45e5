"""Lineage store operations: flowtrack's MetadataStore against ML Metadata's.

The same workload runs through each store on a fresh SQLite file, in its own
interpreter. ml-metadata 1.17.1 pins protobuf < 5 and supports only Python <= 3.11
on x86-64, so it lives in its own virtualenv: ``--mlmd-python`` or ``MLMD_PYTHON``;
otherwise the script makes one (``~/.cache/flowtrack/bench-mlmd``, reused later)
and installs ml-metadata there, and skips the comparison if that is impossible:

* ``put_artifacts([one])``: median per call over 300 calls;
* ``put_artifacts`` of a 10 000-artifact batch: per artifact;
* ``put_execution`` with one input and one output artifact and a context: median;
* a property-filter query (``properties.day.int_value = 42``) over 100 000
  artifacts: median of 5;
* a 10-hop upstream lineage subgraph from the end of a 100 000-event chain.

Targets: single writes within 2x of MLMD, batch writes and the filter query no
slower than MLMD, the 10-hop query <= 50 ms.

``--metadata URL`` runs flowtrack's side against that (empty) database instead of
a SQLite file, and ``--mlmd-metadata postgresql://user@host:port/db`` does the same
for ml-metadata, so both can be compared on one PostgreSQL server (two empty
databases).

    python benchmarks/bench_lineage.py [--mlmd-python PATH] [--metadata URL]
        [--mlmd-metadata URL] [--json out.json]
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import _common as c

MLMD_REQUIREMENT = "ml-metadata==1.17.1"
MLMD_VENV = Path.home() / ".cache" / "flowtrack" / "bench-mlmd"

WORKLOAD = r'''
import json, statistics, sys, time

backend, path = sys.argv[1], sys.argv[2]
N_SINGLE, BATCH, FILTER_N, CHAIN = 300, 10_000, 100_000, 50_000

if backend == "flowtrack":
    from flowtrack.lineage import (Artifact, ArtifactType, Context, ContextType, Event,
                                   Execution, ExecutionType, LineageSubgraphQueryOptions,
                                   ListOptions, MetadataStore, PropertyType)
    store = MetadataStore(path if "://" in path else "sqlite:///" + path)
    def artifact(type_id, uri, day=None):
        return Artifact(type_id=type_id, uri=uri, properties={} if day is None else {"day": day})
    def execution(type_id):
        return Execution(type_id=type_id, last_known_state=Execution.State.COMPLETE)
    def event(kind, a=None, e=None):
        return Event(artifact_id=a, execution_id=e,
                     type=Event.Type.INPUT if kind == "in" else Event.Type.OUTPUT)
    def context(type_id, name):
        return Context(type_id=type_id, name=name)
    def types():
        a = store.put_artifact_type(ArtifactType(name="Data", properties={"day": PropertyType.INT}))
        e = store.put_execution_type(ExecutionType(name="Step"))
        x = store.put_context_type(ContextType(name="Exp"))
        return a, e, x
    def query(q):
        return store.get_artifacts(ListOptions(filter_query=q))
    def lineage(last):
        options = LineageSubgraphQueryOptions(
            starting_artifacts=f"id = {last}", max_num_hops=10,
            direction=LineageSubgraphQueryOptions.Direction.UPSTREAM)
        return store.get_lineage_subgraph(options)
else:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb
    config = pb.ConnectionConfig()
    if path.startswith("postgresql://"):
        from urllib.parse import urlsplit
        where = urlsplit(path)
        config.postgresql.host = where.hostname
        config.postgresql.port = str(where.port or 5432)
        config.postgresql.user = where.username or ""
        config.postgresql.password = where.password or ""
        config.postgresql.dbname = where.path.lstrip("/")
    else:
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = 3
    store = metadata_store.MetadataStore(config)
    def artifact(type_id, uri, day=None):
        a = pb.Artifact(type_id=type_id, uri=uri)
        if day is not None:
            a.properties["day"].int_value = day
        return a
    def execution(type_id):
        return pb.Execution(type_id=type_id, last_known_state=pb.Execution.COMPLETE)
    def event(kind, a=None, e=None):
        ev = pb.Event(type=pb.Event.INPUT if kind == "in" else pb.Event.OUTPUT)
        if a is not None:
            ev.artifact_id = a
        if e is not None:
            ev.execution_id = e
        return ev
    def context(type_id, name):
        return pb.Context(type_id=type_id, name=name)
    def types():
        at = pb.ArtifactType(name="Data"); at.properties["day"] = pb.INT
        a = store.put_artifact_type(at)
        e = store.put_execution_type(pb.ExecutionType(name="Step"))
        x = store.put_context_type(pb.ContextType(name="Exp"))
        return a, e, x
    def query(q):
        return store.get_artifacts(list_options=metadata_store.ListOptions(filter_query=q))
    def lineage(last):
        options = pb.LineageSubgraphQueryOptions(
            starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(
                filter_query=f"id = {last}"),
            max_num_hops=10, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)
        return store.get_lineage_subgraph(options, ["artifacts", "executions", "events"])

def timed(fn):
    t = time.perf_counter(); out = fn(); return time.perf_counter() - t, out

a_type, e_type, x_type = types()
out = {}
single = [timed(lambda: store.put_artifacts([artifact(a_type, "s")]))[0] for _ in range(N_SINGLE)]
out["put_artifacts_single_ms"] = statistics.median(single) * 1e3
batch = [artifact(a_type, f"b{i}", i % 1000) for i in range(BATCH)]
out["put_artifacts_batch_us"] = timed(lambda: store.put_artifacts(batch))[0] / BATCH * 1e6
ctx = context(x_type, "exp")
def one_execution(i):
    return store.put_execution(execution(e_type),
                               [(artifact(a_type, f"in{i}"), event("in")),
                                (artifact(a_type, f"out{i}"), event("out"))],
                               [ctx], reuse_context_if_already_exist=True)
execs = [timed(lambda i=i: one_execution(i))[0] for i in range(N_SINGLE)]
out["put_execution_ms"] = statistics.median(execs) * 1e3
for start in range(BATCH, FILTER_N, BATCH):  # fill to FILTER_N artifacts with a day
    store.put_artifacts([artifact(a_type, f"f{i}", i % 1000) for i in range(start, start + BATCH)])
q = "properties.day.int_value = 42"
found = query(q)
out["filter_matches"] = len(found)
out["filter_query_ms"] = statistics.median(timed(lambda: query(q))[0] for _ in range(5)) * 1e3
# a chain a0 -> e0 -> a1 -> e1 -> ... with 2 events per execution
chain_a = []
for start in range(0, CHAIN + 1, BATCH):
    chain_a += store.put_artifacts([artifact(a_type, f"c{i}") for i in range(start, min(start + BATCH, CHAIN + 1))])
chain_e = []
for start in range(0, CHAIN, BATCH):
    chain_e += store.put_executions([execution(e_type) for _ in range(start, min(start + BATCH, CHAIN))])
for start in range(0, CHAIN, BATCH):
    evs = []
    for i in range(start, min(start + BATCH, CHAIN)):
        evs.append(event("in", chain_a[i], chain_e[i]))
        evs.append(event("out", chain_a[i + 1], chain_e[i]))
    store.put_events(evs)
graph = lineage(chain_a[-1])
out["lineage_nodes"] = len(graph.artifacts) + len(graph.executions)
out["lineage_10_hops_ms"] = statistics.median(timed(lambda: lineage(chain_a[-1]))[0] for _ in range(5)) * 1e3
print(json.dumps(out))
'''

METRICS = [
    ("put_artifacts([one])", "put_artifacts_single_ms", "ms", "<= 2x MLMD"),
    ("put_artifacts, batch of 10 000", "put_artifacts_batch_us", "us/artifact", "<= MLMD"),
    ("put_execution (1 in, 1 out, context)", "put_execution_ms", "ms", "<= 2x MLMD"),
    ("filter over 100 000 artifacts", "filter_query_ms", "ms", "<= MLMD"),
    ("10-hop lineage, 100 000 events", "lineage_10_hops_ms", "ms", "<= 50 ms"),
]


def run_workload(python: str, backend: str, workdir: Path, timeout: float,
                 database: str | None = None) -> dict[str, float]:
    script = workdir / "workload.py"
    script.write_text(WORKLOAD)
    db = database or str(workdir / f"{backend}.db")
    done = subprocess.run([python, str(script), backend, db], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise c.BenchmarkError(f"{backend} workload failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mlmd_python(explicit: str | None) -> str | None:
    """An interpreter with ml-metadata: the one given, or a virtualenv made for it."""
    if explicit:
        return explicit
    python = MLMD_VENV / "bin" / "python"
    if python.exists() and _has_mlmd(str(python)):
        return str(python)
    print(f"setting up {MLMD_REQUIREMENT} in {MLMD_VENV} (once) ...", flush=True)
    base = _base_python()
    made = subprocess.run([base, "-m", "venv", str(MLMD_VENV)], capture_output=True, text=True)
    if made.returncode == 0:
        made = subprocess.run([str(python), "-m", "pip", "install", "-q", MLMD_REQUIREMENT],
                              capture_output=True, text=True)
    if made.returncode != 0 or not _has_mlmd(str(python)):
        print(f"ml-metadata could not be installed ({made.stderr.strip()[-300:]}); comparing "
              "nothing. It needs Python <= 3.11 on x86-64; pass --mlmd-python to use another.")
        return None
    return str(python)


def _base_python() -> str:
    """The interpreter to base the virtualenv on (not a venv's own python)."""
    import sys

    return getattr(sys, "_base_executable", None) or sys.executable


def _has_mlmd(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import ml_metadata"], capture_output=True)
    return probe.returncode == 0


def main() -> None:
    parser = c.make_parser(__doc__.splitlines()[0], repeat=1)
    parser.add_argument("--mlmd-python", default=os.environ.get("MLMD_PYTHON"),
                        help="interpreter with ml-metadata 1.17.1 installed")
    parser.add_argument("--no-mlmd", action="store_true", help="measure flowtrack only")
    parser.add_argument("--metadata", metavar="URL",
                        help="an empty database for flowtrack's side (default: a SQLite file)")
    parser.add_argument("--mlmd-metadata", metavar="URL",
                        help="an empty postgresql:// database for ml-metadata's side")
    args = parser.parse_args()
    if not args.no_mlmd:
        args.mlmd_python = mlmd_python(args.mlmd_python)
    with tempfile.TemporaryDirectory(prefix="bench-lineage-") as tmp:
        ours = run_workload(args.python, "flowtrack", Path(tmp), args.timeout, args.metadata)
        theirs = (run_workload(args.mlmd_python, "mlmd", Path(tmp), args.timeout,
                               args.mlmd_metadata)
                  if args.mlmd_python else None)
    rows = []
    for label, key, unit, target in METRICS:
        mine = ours[key]
        other = theirs[key] if theirs else None
        ratio = f"{other / mine:.2f}x" if other else "-"
        rows.append((label, f"{mine:.3f} {unit}", f"{other:.3f} {unit}" if other else "-",
                     ratio, target))
    ours_on = args.metadata.split("://", 1)[0] if args.metadata else "a SQLite file"
    theirs_on = "postgresql" if args.mlmd_metadata else "a SQLite file"
    c.print_table(f"lineage store, flowtrack on {ours_on}, ml-metadata on {theirs_on} "
                  "(MLMD / flowtrack: >1 means flowtrack is faster)",
                  ("operation", "flowtrack", "ml-metadata", "MLMD / flowtrack", "target"), rows)
    print(f"\nfilter matched {ours['filter_matches']} artifacts"
          + (f" (MLMD {theirs['filter_matches']})" if theirs else "")
          + f"; lineage walk reached {ours['lineage_nodes']} nodes"
          + (f" (MLMD {theirs['lineage_nodes']})" if theirs else ""))
    results = [c.Result("10-hop lineage query", ours["lineage_10_hops_ms"] / 1000, "s", 0.05)]
    if theirs:
        results += [
            c.Result("single put vs MLMD", ours["put_artifacts_single_ms"]
                     / theirs["put_artifacts_single_ms"], "x", 2.0),
            c.Result("batch put vs MLMD", ours["put_artifacts_batch_us"]
                     / theirs["put_artifacts_batch_us"], "x", 1.0),
            c.Result("put_execution vs MLMD", ours["put_execution_ms"]
                     / theirs["put_execution_ms"], "x", 2.0),
            c.Result("filter query vs MLMD", ours["filter_query_ms"]
                     / theirs["filter_query_ms"], "x", 1.0),
        ]
    c.report("bench_lineage", results, args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
