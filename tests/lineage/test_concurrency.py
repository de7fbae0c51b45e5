"""Many processes writing one SQLite store at once: they queue, none fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from flowtrack.lineage import MetadataStore

WRITER = textwrap.dedent("""
    import sys
    from flowtrack.lineage import Artifact, ArtifactType, Context, ContextType, MetadataStore

    store = MetadataStore(sys.argv[1])
    type_id = store.put_artifact_type(ArtifactType(name="Shared"))
    ctx_type = store.put_context_type(ContextType(name="Group"))
    for i in range(60):
        [art] = store.put_artifacts([Artifact(type_id=type_id, uri=f"{sys.argv[2]}/{i}")])
        store.get_artifacts_by_id([art])  # reads interleave with the other writers
    print("done")
""")


def test_parallel_writer_processes_never_see_database_is_locked(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), url, f"w{n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert out.strip() == "done"
        assert "locked" not in err
    store = MetadataStore(url)
    assert len(store.get_artifacts_by_type("Shared")) == 6 * 60
    assert len([t for t in store.get_artifact_types() if t.name == "Shared"]) == 1
