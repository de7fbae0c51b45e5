"""The metadata layer on a real PostgreSQL server: schema, MetadataStore, races."""

from __future__ import annotations

import threading

from flowtrack.lineage import (
    Artifact,
    ArtifactType,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    LineageSubgraphQueryOptions,
    ListOptions,
    MetadataStore,
    PropertyType,
)


def test_metadata_store_round_trip_on_postgres(postgres_url):
    store = MetadataStore(postgres_url)
    data_type = store.put_artifact_type(ArtifactType(
        name="DataSet", properties={"day": PropertyType.INT, "split": PropertyType.STRING}))
    trainer = store.put_execution_type(ExecutionType(name="Trainer"))
    exp_type = store.put_context_type(ContextType(name="Experiment"))
    [data_id] = store.put_artifacts([Artifact(type_id=data_type, uri="d",
                                              properties={"day": 1, "split": "train"},
                                              custom_properties={"nan": float("nan"),
                                                                 "blob": b"\x00\x01"})])
    execution = Execution(type_id=trainer, last_known_state=Execution.State.COMPLETE)
    model = Artifact(type_id=data_type, uri="m", properties={"day": 2})
    exec_id, [model_id], [ctx_id] = store.put_execution(
        execution, [(model, Event(type=Event.Type.OUTPUT, path=["model"]))],
        [Context(type_id=exp_type, name="exp")])
    store.put_events([Event(artifact_id=data_id, execution_id=exec_id,
                            type=Event.Type.INPUT)])
    [stored] = store.get_artifacts_by_id([data_id])
    assert stored.properties == {"day": 1, "split": "train"}
    assert stored.custom_properties["blob"] == b"\x00\x01"
    assert stored.custom_properties["nan"] != stored.custom_properties["nan"]  # NaN survives
    graph = store.get_lineage_subgraph(LineageSubgraphQueryOptions(
        starting_artifacts=[model_id], max_num_hops=2,
        direction=LineageSubgraphQueryOptions.Direction.UPSTREAM))
    assert {a.id for a in graph.artifacts} == {data_id, model_id}
    assert [c.id for c in graph.contexts] == [ctx_id]


def test_concurrent_get_or_create_on_postgres(postgres_url):
    store = MetadataStore(postgres_url)
    ids: list[int] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            ids.append(store.put_context_type(ContextType(name="Shared")))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(ids)) == 1
    assert len([t for t in store.get_context_types() if t.name == "Shared"]) == 1


def test_bulk_inserts_refresh_the_planner_statistics(postgres_url):
    """After a bulk load the planner must know the table's size, or a property filter
    scans every row instead of using the property index (Database.note_inserted)."""
    import psycopg

    store = MetadataStore(postgres_url)
    type_id = store.put_artifact_type(ArtifactType(name="Day",
                                                   properties={"day": PropertyType.INT}))

    def analyzed() -> set[str]:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            return {name for (name,) in conn.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")}

    store.put_artifacts([Artifact(type_id=type_id, uri=f"u{i}", properties={"day": i})
                         for i in range(10)])
    assert not {"artifacts", "artifact_properties"} & analyzed()  # a small write: no ANALYZE
    store.put_artifacts([Artifact(type_id=type_id, uri=f"v{i}", properties={"day": i % 50})
                         for i in range(3000)])
    assert {"artifacts", "artifact_properties"} <= analyzed()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        plan = "\n".join(row[0] for row in conn.execute(
            "EXPLAIN SELECT * FROM artifact_properties WHERE artifact_id = ANY(%s)",
            ([5, 500, 2500],)))
    assert "Seq Scan" not in plan, plan
    found = store.get_artifacts(ListOptions(filter_query="properties.day.int_value = 7"))
    assert len(found) == 3000 // 50 + 1
