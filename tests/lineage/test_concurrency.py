"""Many processes writing one store at once: they queue (SQLite) or interleave
(PostgreSQL), none fails, and types and contexts they all create exist once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from flowtrack.lineage import MetadataStore
from tests.conftest import database_url

WRITER = textwrap.dedent("""
    import sys
    from flowtrack.lineage import (Artifact, ArtifactType, Context, ContextType, Event,
                                   Execution, ExecutionType, MetadataStore)

    store = MetadataStore(sys.argv[1])
    for i in range(60):
        # every writer gets-or-creates the same types and context on every iteration
        type_id = store.put_artifact_type(ArtifactType(name="Shared"))
        step_type = store.put_execution_type(ExecutionType(name="Writer"))
        ctx_type = store.put_context_type(ContextType(name="Group"))
        [art] = store.put_artifacts([Artifact(type_id=type_id, uri=f"{sys.argv[2]}/{i}")])
        store.put_execution(
            Execution(type_id=step_type, last_known_state=Execution.State.COMPLETE),
            [(Artifact(id=art, type_id=type_id), Event(type=Event.Type.INPUT))],
            [Context(type_id=ctx_type, name=f"shared-{i % 3}")],
            reuse_context_if_already_exist=True)
        store.get_artifacts_by_id([art])  # reads interleave with the other writers
    print("done")
""")


def test_parallel_writer_processes_never_fail_or_duplicate(tmp_path):
    url = database_url(tmp_path / "m.db")
    MetadataStore(url)  # the schema exists before the race on rows starts
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), url, f"w{n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(6)]
    results = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert out.strip() == "done"
        assert "locked" not in err
    store = MetadataStore(url)
    assert len(store.get_artifacts_by_type("Shared")) == 6 * 60
    assert len(store.get_executions_by_type("Writer")) == 6 * 60
    assert [t.name for t in store.get_artifact_types()].count("Shared") == 1
    assert [t.name for t in store.get_context_types()].count("Group") == 1
    contexts = store.get_contexts_by_type("Group")
    assert sorted(c.name for c in contexts) == ["shared-0", "shared-1", "shared-2"]
    assert sum(len(store.get_executions_by_context(c.id)) for c in contexts) == 6 * 60


def test_a_fresh_database_opened_by_many_processes_at_once(tmp_path):
    url = database_url(tmp_path / "new.db")
    opener = "import sys; from flowtrack.lineage import MetadataStore; MetadataStore(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", opener, url], stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert MetadataStore(url).get_artifact_types() == []
