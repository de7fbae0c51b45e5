"""The artifact proxy as MLflow's server has it, checked over HTTP and with the official
mlflow client: plain storage at any path, listings by name, download headers
(Content-Type from the name, Content-Disposition, nosniff), path safety, multipart
endpoints answering NOT_IMPLEMENTED so the client falls back, the ajax-api prefix,
and the --no-serve-artifacts / --artifacts-only / --default-artifact-root modes."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mlflow_session import MlflowSession

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def test_the_proxy_stores_files_at_any_path(api: httpx.Client):
    for path, data in {"loose/a.txt": b"1", "loose/dir/b.txt": b"22"}.items():
        assert api.put(f"{PROXY}/{path}", content=data).status_code == 200
    assert api.get(f"{PROXY}/loose/dir/b.txt").content == b"22"
    assert api.get(PROXY, params={"path": "loose"}).json() == {"files": [
        {"path": "a.txt", "is_dir": False, "file_size": 1}, {"path": "dir", "is_dir": True}]}
    assert api.get(PROXY, params={"path": "loose/dir"}).json() == {"files": [
        {"path": "b.txt", "is_dir": False, "file_size": 2}]}
    # a file, an empty or a missing directory: MLflow's empty answer
    for path in ("loose/a.txt", "nowhere"):
        assert api.get(PROXY, params={"path": path}).json() == {}
    assert api.delete(f"{PROXY}/loose/dir").status_code == 200
    assert api.get(PROXY, params={"path": "loose"}).json()["files"] == [
        {"path": "a.txt", "is_dir": False, "file_size": 1}]


@pytest.mark.parametrize(("name", "media_type", "disposition"), [
    ("a.txt", "text/plain", "attachment; filename=a.txt"),
    ("b.pkl", "application/octet-stream", "attachment; filename=b.pkl"),
    ("c.png", "image/png", "attachment; filename=c.png"),
    ("d.pdf", "application/pdf", "attachment; filename=d.pdf"),
    ("MLmodel", "text/plain", "attachment; filename=MLmodel"),
    ("conf.yaml", "text/plain", "attachment; filename=conf.yaml"),
    ("with space.json", "text/plain", 'attachment; filename="with space.json"'),
    ("ünï.txt", "text/plain",
     "attachment; filename=uni.txt; filename*=UTF-8''%C3%BCn%C3%AF.txt"),
])
def test_downloads_carry_mlflows_headers(api: httpx.Client, name, media_type, disposition):
    assert api.put(f"{PROXY}/headers/{name}", content=b"x").status_code == 200
    # the type comes from the name, whatever the client asks for
    got = api.get(f"{PROXY}/headers/{name}", headers={"Accept": "text/html"})
    assert got.status_code == 200
    assert got.headers["content-type"].split(";")[0] == media_type
    assert got.headers["content-disposition"] == disposition
    assert got.headers["x-content-type-options"] == "nosniff"


def test_legacy_download_has_the_same_headers(mlflow_client: MlflowSession, api: httpx.Client):
    run_id = mlflow_client.run("""
        with mlflow.start_run() as run:
            mlflow.log_text("abcdefg", "notes/a.txt")
        result = run.info.run_id
    """)
    got = api.get("/get-artifact", params={"run_id": run_id, "path": "notes/a.txt"})
    assert got.text == "abcdefg"
    assert got.headers["content-disposition"] == "attachment; filename=a.txt"
    assert got.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["x/../../etc/passwd", "x/%2E%2E/%2E%2E/etc", "/etc/passwd",
                                  "a\\b.txt"])
def test_unsafe_paths_are_400(api: httpx.Client, path):
    for answer in (api.get(f"{PROXY}/{path}"), api.put(f"{PROXY}/{path}", content=b"x"),
                   api.get(PROXY, params={"path": path})):
        assert answer.status_code in (400, 404), answer.text  # never served, never stored
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "ENDPOINT_NOT_FOUND",
                                               "RESOURCE_DOES_NOT_EXIST")


def test_uploads_need_a_file_name_and_directories_are_no_downloads(api: httpx.Client):
    answer = api.put(f"{PROXY}/nested/", content=b"x")
    assert answer.status_code == 400 and "filename" in answer.json()["message"]
    api.put(f"{PROXY}/adir/f.txt", content=b"x")
    assert api.get(f"{PROXY}/adir").status_code == 400


def test_multipart_endpoints_say_not_implemented(api: httpx.Client):
    for action in ("mpu/create", "mpu/complete", "mpu/abort"):
        answer = api.post(f"/api/2.0/mlflow-artifacts/{action}/a/b.bin",
                          json={"path": "b.bin", "num_parts": 2})
        assert answer.status_code == 501
        assert answer.json()["error_code"] == "NOT_IMPLEMENTED"
        assert answer.json()["message"].startswith("Multipart upload is not supported")
    presigned = api.get("/api/2.0/mlflow-artifacts/presigned/a/b.bin")
    assert presigned.status_code == 501


def test_ajax_api_prefix(api: httpx.Client):
    assert api.put("/ajax-api/2.0/mlflow-artifacts/artifacts/ajax/x.txt",
                   content=b"via ajax").status_code == 200
    assert api.get(f"{PROXY}/ajax/x.txt").content == b"via ajax"


def test_the_client_logs_lists_and_downloads_through_the_proxy(mlflow_client, tmp_path):
    found = mlflow_client.run(f"""
        import os
        src = {str(tmp_path)!r}
        os.makedirs(os.path.join(src, "dir"), exist_ok=True)
        open(os.path.join(src, "a.txt"), "w").write("0")
        open(os.path.join(src, "dir", "b.txt"), "w").write("1")
        with mlflow.start_run() as run:
            mlflow.log_artifacts(src)
            mlflow.log_artifact(os.path.join(src, "a.txt"), artifact_path="nested/deeper")
        rid = run.info.run_id
        out = client.download_artifacts(rid, "dir", {str(tmp_path / "out")!r})
        result = [sorted(f.path for f in client.list_artifacts(rid)),
                  [f.path for f in client.list_artifacts(rid, "dir")],
                  [f.path for f in client.list_artifacts(rid, "nested/deeper")],
                  os.listdir(out), open(os.path.join(out, "b.txt")).read(),
                  client.list_artifacts(rid, "a.txt")]
    """)
    assert found == [["a.txt", "dir", "nested"], ["dir/b.txt"], ["nested/deeper/a.txt"],
                     ["b.txt"], "1", []]


def test_no_serve_artifacts_mode(start_server):
    server = start_server("--no-serve-artifacts", "--default-artifact-root", "s3://bucket/root")
    with httpx.Client(base_url=server.url, timeout=30) as api:
        assert api.get(f"{PROXY}/x.txt").status_code == 503
        assert api.put(f"{PROXY}/x.txt", content=b"x").status_code == 503
        experiment = api.get("/api/2.0/mlflow/experiments/get",
                             params={"experiment_id": "0"}).json()["experiment"]
        assert experiment["artifact_location"] == "s3://bucket/root/0"


def test_artifacts_only_mode(start_server):
    server = start_server("--artifacts-only")
    with httpx.Client(base_url=server.url, timeout=30) as api:
        answer = api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert answer.status_code == 503
        assert "--artifacts-only" in answer.json()["message"]
        assert api.put(f"{PROXY}/only/x.txt", content=b"x").status_code == 200
        assert api.get(f"{PROXY}/only/x.txt").content == b"x"
        assert api.get("/health").text == "OK"
