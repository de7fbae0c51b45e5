"""The tracking server's safety, through real requests to ``flowtrack server``
subprocesses: path traversal in every form MLflow's published CVEs used (CVE-2023-1177,
-2780, -6831, -6909, CVE-2024-1483, -1558, -1593, -1594: '..', single and double URL
encoding, absolute paths, backslashes, NUL, ';' path params, other experiments' runs)
on the artifact proxy, its listing, /get-artifact and artifacts/list, raw request
targets sent without client-side normalization; symlinks in the artifact destination;
model version sources naming server files; never unpickling uploaded models;
authentication (bearer token, basic users) on every endpoint, never turned off by an
empty token; request size limits and validation; binding to loopback by default;
damaged blobs answered without a path on the server; and downloads of files named in
any script.
"""

from __future__ import annotations

import base64
import errno
import http.client
import json
import os
import pickle
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import blake3
import httpx
import pytest

from flowtrack._errors import ConfigurationError
from flowtrack.server import Auth
from flowtrack.server._routes import ROUTES

API = "/api/2.0/mlflow/"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
UP = "../" * 12  # enough '..' to reach / from wherever the server resolves paths
PASSWD_MARKER = b"root:x:0:0"


# -- helpers ----------------------------------------------------------------------------
def raw_request(server: Any, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    """Send ``target`` exactly as given (no client-side normalization or re-encoding)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("content-type") or ""
    finally:
        conn.close()


def assert_mlflow_error(status: int, body: bytes, content_type: str, what: str) -> str:
    assert content_type.startswith("application/json"), f"{what}: {status} {body[:300]!r}"
    found = json.loads(body)
    assert isinstance(found, dict) and isinstance(found.get("error_code"), str) \
        and isinstance(found.get("message"), str), f"{what}: {found}"
    return str(found["error_code"])


def call(client: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    resp = (client.get(API + path, params=body) if method == "GET"
            else client.request(method, API + path, json=body))
    assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


def new_run(client: httpx.Client, **experiment: Any) -> tuple[str, str]:
    exp = call(client, "POST", "experiments/create",
               {"name": f"safety-{uuid.uuid4().hex[:12]}", **experiment})["experiment_id"]
    run = call(client, "POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    return str(exp), str(run)


ESCAPING_STEPS = ["../", "%2e%2e/", "%2E%2E%2F", "..%2F", "..\\", "..%5c", ".%2e/", "%2e./"]
# these decode (once, as they must) to odd but harmless names inside the run
LITERAL_STEPS = ["%252e%252e%252f", "..;/", "%c0%ae%c0%ae/", "....//", "..%252f"]


def traversals(secret: Path) -> list[tuple[str, bool, bool]]:
    """Ways of writing '<up to the root>/<secret file>' in a URL, each with whether the
    server must refuse it (it decodes to '..' segments, an absolute path or a NUL)
    rather than take it as a literal name inside the run, and whether it is absolute
    (refused on its own, but after a run's root in a URL path '//' is just '/')."""
    rel = quote(str(secret).lstrip("/"))
    found = [(step * 12 + rel, True, False) for step in ESCAPING_STEPS]
    found += [(step * 12 + rel, False, False) for step in LITERAL_STEPS]
    return found + [("/" + rel, True, True), ("%2F" + rel, True, True),
                    ("a.txt%00/" + UP + rel, True, False)]


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside every store, holding a secret file."""
    found = tmp_path_factory.mktemp("outside")
    (found / "secret.txt").write_text(f"TOP-SECRET-{uuid.uuid4().hex}")
    return found


@pytest.fixture(scope="module")
def secret(outside: Path) -> bytes:
    return (outside / "secret.txt").read_bytes()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as found:
        yield found


@pytest.fixture(scope="module")
def two_runs(client) -> dict[str, str]:
    """Runs of two experiments, each with one file."""
    exp_a, run_a = new_run(client)
    exp_b, run_b = new_run(client)
    assert client.put(f"{PROXY}/{exp_a}/{run_a}/artifacts/a.txt", content=b"A").status_code == 200
    assert client.put(f"{PROXY}/{exp_b}/{run_b}/artifacts/b.txt", content=b"B-ONLY").status_code \
        == 200
    return {"exp_a": exp_a, "run_a": run_a, "exp_b": exp_b, "run_b": run_b}


# -- path traversal -------------------------------------------------------------------------
def test_path_traversal_never_leaves_the_run(server, two_runs, outside, secret):
    r = two_runs
    root = f"{PROXY}/{r['exp_a']}/{r['run_a']}/artifacts"
    secret_file = outside / "secret.txt"
    targets = []
    for bad, refuse, absolute in traversals(secret_file) + traversals(Path("/etc/passwd")):
        targets += [(t, refuse and not absolute) for t in (
            f"{root}/{bad}", f"{PROXY}?path={r['exp_a']}/{r['run_a']}/artifacts/{bad}")]
        targets += [(t, refuse) for t in (
            f"/get-artifact?run_uuid={r['run_a']}&path={bad}",
            f"{API}get-artifact?run_id={r['run_a']}&path={bad}",
            f"{API}artifacts/list?run_id={r['run_a']}&path={bad}")]
        # no run at all: the proxy's own root, which holds nothing of the secret's
        targets += [(f"{PROXY}/{bad}", refuse), (f"{PROXY}?path={bad}", refuse)]
    targets += [(t, True) for t in (
                f"{PROXY}//etc/passwd", f"{PROXY}/{quote(str(secret_file), safe='')}",
                f"{root}//etc/passwd", f"{root}/../../{r['exp_b']}/{r['run_b']}/artifacts/b.txt",
                f"{root}/%2e%2e/%2e%2e/{r['exp_b']}/{r['run_b']}/artifacts/b.txt",
                # a path naming another experiment than the run's, and the other way round
                f"{PROXY}/{r['exp_b']}/{r['run_a']}/artifacts/a.txt",
                f"{PROXY}/{r['exp_a']}/{r['run_b']}/artifacts/b.txt",
                f"{PROXY}?path={r['exp_a']}/{r['run_b']}/artifacts",
                f"{API}model-versions/get-artifact?name=x&version=1&path={UP}etc/passwd")]
    for target, refuse in targets:
        status, body, content_type = raw_request(server, "GET", target)
        assert 400 <= status < 500 if refuse else status < 500, \
            f"GET {target} -> {status} {body[:300]!r}"
        if status >= 400:
            assert_mlflow_error(status, body, content_type, target)
        assert secret not in body and PASSWD_MARKER not in body, target
        assert b"B-ONLY" not in body and b'"b.txt"' not in body, target
    # the files are still reachable the right way
    assert raw_request(server, "GET", f"{root}/a.txt")[:2] == (200, b"A")


def test_traversal_cannot_write_or_delete_outside(server, two_runs, outside, secret):
    run_files = f"{two_runs['exp_a']}/{two_runs['run_a']}/artifacts"

    def names() -> set[str]:
        return {f["path"] for f in json.loads(raw_request(server, "GET",
                                                          f"{PROXY}?path={run_files}")[1])["files"]}

    for method, target in (("PUT", "planted.txt"), ("DELETE", "planted.txt"),
                           ("DELETE", "secret.txt")):
        for bad, refuse, absolute in traversals(outside / target):
            status, body, content_type = raw_request(server, method, f"{PROXY}/{run_files}/{bad}",
                                                     body=b"pwned" if method == "PUT" else None)
            assert 400 <= status < 500 if refuse and not absolute else status < 500, \
                f"{method} {run_files}/{bad} -> {status} {body[:200]!r}"
            if status >= 400:
                assert_mlflow_error(status, body, content_type, bad)
        if method == "PUT":  # what was stored went into the run, under literal names
            top = str(outside).lstrip("/").split("/")[0]  # '//tmp/...' after the root is 'tmp/...'
            assert {"a.txt", "..;", "....", top} <= names()
            assert not any(n in ("..", ".") or n.startswith("/") or "\\" in n for n in names())
    assert names() == {"a.txt"}
    assert not (outside / "planted.txt").exists()
    assert (outside / "secret.txt").read_bytes() == secret
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_symlinks_in_the_artifact_destination_are_never_followed(start_server, tmp_path,
                                                                 outside, secret):
    destination = tmp_path / "blobs"
    destination.mkdir()
    (destination / "escape").symlink_to(outside, target_is_directory=True)
    (destination / "link.txt").symlink_to(outside / "secret.txt")
    # even a symlink planted where a blob goes: bytes are checked against their digest
    planted = f"innocent-{uuid.uuid4().hex}".encode()
    digest = blake3.blake3(planted).hexdigest()
    (destination / digest[:2]).mkdir()
    (destination / digest[:2] / digest).symlink_to(outside / "secret.txt")

    server = start_server("--artifacts-destination", str(destination))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        exp, run = new_run(client)
        root = f"{PROXY}/{exp}/{run}/artifacts"
        assert client.put(f"{root}/ok.txt", content=b"stored").status_code == 200
        assert client.get(f"{root}/ok.txt").content == b"stored"
        stored = blake3.blake3(b"stored").hexdigest()
        assert (destination / stored[:2] / stored).read_bytes() == b"stored"
        assert client.put(f"{root}/planted.txt", content=planted).status_code == 200
    targets = [f"{PROXY}/escape/secret.txt", f"{PROXY}/link.txt", f"{PROXY}?path=escape",
               f"{PROXY}/{digest[:2]}/{digest}", f"{root}/../../../escape/secret.txt",
               f"{root}/%2e%2e/%2e%2e/%2e%2e/link.txt", f"{root}/escape/secret.txt",
               f"/get-artifact?run_uuid={run}&path=../../../escape/secret.txt",
               f"/get-artifact?run_uuid={run}&path=escape/secret.txt",
               f"{API}artifacts/list?run_id={run}&path=../../escape",
               f"{root}/planted.txt"]
    for target in targets:
        status, body, _ = raw_request(server, "GET", target)
        # the proxy's own root may answer an empty listing, never a file from the disk
        assert (status != 200 or body == b"{}") and secret not in body, \
            f"GET {target} -> {status} {body[:300]!r}"


# -- model version sources -------------------------------------------------------------------
def test_model_version_sources_never_make_the_server_read_files(client, outside, secret,
                                                                tmp_path):
    fifo = tmp_path / "pipe"  # opening it to read would block the request
    os.mkfifo(fifo)
    exp, run = new_run(client, artifact_location=f"file://{outside}")
    secret_file = outside / "secret.txt"
    sources = [f"file://{secret_file}", str(secret_file), str(outside), "/etc", "/etc/passwd",
               "file:///etc/passwd", "../../x", UP + str(secret_file).lstrip("/"),
               "http://host/x#frag", f"file://{outside}#/../secret.txt",
               "http://127.0.0.1:1/x?/../../../../etc/passwd", f"file://{fifo}", str(fifo),
               str(tmp_path),
               f"runs:/{run}/../../../../{secret_file}", f"runs:/{run}/{UP}etc/passwd",
               f"mlflow-artifacts:/{UP}{str(secret_file).lstrip('/')}",
               f"models:/{UP}etc/passwd", "file:" + str(outside) + "/%2e%2e/secret.txt"]
    name = f"sources-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=client.base_url, timeout=10) as quick:  # a blocked read times out
        for source in sources:
            resp = quick.post(API + "model-versions/create", json={"name": name, "source": source})
            assert resp.status_code < 500 and secret not in resp.content, (source, resp.text)
            if resp.status_code != 200:
                continue
            version = resp.json()["model_version"]["version"]
            answers = [quick.get(API + path, params={"name": name, "version": version})
                       for path in ("model-versions/get", "model-versions/get-download-uri")]
            answers.append(quick.get(API + "model-versions/search",
                                     params={"filter": f"name = '{name}'"}))
            uri = answers[1].json().get("artifact_uri", "")
            if uri.startswith("mlflow-artifacts:"):  # where a client would download from
                answers.append(quick.get(f"{PROXY}/{uri.removeprefix('mlflow-artifacts:/')}"))
                answers.append(quick.get(PROXY, params={"path": uri.removeprefix(
                    "mlflow-artifacts:/")}))
            for answer in answers:
                assert secret not in answer.content and PASSWD_MARKER not in answer.content, (
                    source, answer.request.url, answer.text[:300])
                assert answer.status_code < 500, (source, answer.request.url, answer.text)
        # an experiment's artifact location (CVE-2024-1483/-1594 put '..' in its fragment
        # or params) is never where its runs' files are read from
        locations = [f"http://127.0.0.1:1/x#/{UP}{outside}", f"http://127.0.0.1:1/x?p={UP}"
                     f"{outside}", str(outside)]
        for other in [run] + [new_run(quick, artifact_location=loc)[1] for loc in locations]:
            listed = call(quick, "GET", "artifacts/list", {"run_id": other})
            assert listed["files"] == [] and listed["root_uri"].startswith("mlflow-artifacts:")
            resp = quick.get("/get-artifact", params={"run_uuid": other, "path": "secret.txt"})
            assert resp.status_code == 404 and secret not in resp.content
    with pytest.raises(OSError) as no_reader:  # nobody has the pipe open
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert no_reader.value.errno == errno.ENXIO


# -- never unpickling ---------------------------------------------------------------------------
class Detonator:
    """Unpickling this creates the file at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


def test_uploaded_models_are_never_unpickled(client, tmp_path):
    from flowtrack.store._codec import encode  # the store's own value format, pickle inside

    sentinel = tmp_path / "unpickled"
    payload = pickle.dumps(Detonator(str(sentinel)))
    blob = encode(Detonator(str(sentinel))).to_bytes()
    mlmodel = (b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
               b"    pickled_model: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n"
               b"    serialization_format: pickle\n")
    files = {"MLmodel": mlmodel, "model.pkl": payload, "value.ftb": blob}
    exp, run = new_run(client)
    model = call(client, "POST", "logged-models", {"experiment_id": exp, "source_run_id": run,
                                                   "model_type": "sklearn"})["model"]["info"]
    model_id = model["model_id"]
    roots = [f"{exp}/{run}/artifacts/model", f"{exp}/models/{model_id}/artifacts"]
    for root in roots:
        for path, data in files.items():
            assert client.put(f"{PROXY}/{root}/{path}", content=data).status_code == 200
    call(client, "PATCH", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"})
    call(client, "POST", "runs/log-model", {"run_id": run, "model_json": json.dumps(
        {"artifact_path": "model", "flavors": {"sklearn": {"pickled_model": "model.pkl"}}})})
    call(client, "POST", "runs/outputs", {"run_id": run, "models": [{"model_id": model_id}]})
    name = f"pickles-{uuid.uuid4().hex[:8]}"
    call(client, "POST", "model-versions/create", {"name": name, "source": f"runs:/{run}/model"})
    call(client, "POST", "model-versions/create", {"name": name, "source": f"models:/{model_id}"})
    call(client, "POST", "registered-models/alias", {"name": name, "alias": "prod",
                                                     "version": "2"})

    reads = [("GET", f"logged-models/{model_id}", None),
             ("POST", "logged-models/search", {"experiment_ids": [exp]}),
             ("GET", "runs/get", {"run_id": run}),
             ("POST", "runs/search", {"experiment_ids": [exp]}),
             ("GET", "artifacts/list", {"run_id": run, "path": "model"}),
             ("GET", "registered-models/get", {"name": name}),
             ("GET", "registered-models/alias", {"name": name, "alias": "prod"}),
             ("POST", "registered-models/get-latest-versions", {"name": name}),
             ("GET", "model-versions/search", {"filter": f"name = '{name}'"})]
    for version in ("1", "2"):
        reads += [("GET", "model-versions/get", {"name": name, "version": version}),
                  ("GET", "model-versions/get-download-uri", {"name": name, "version": version})]
    for method, path, body in reads:
        call(client, method, path, body)
    for root in roots:
        listed = client.get(PROXY, params={"path": root}).json()["files"]
        assert sorted(f["path"] for f in listed) == sorted(files)
        for path, data in files.items():
            assert client.get(f"{PROXY}/{root}/{path}").content == data
    assert client.get("/get-artifact", params={"run_uuid": run,
                                               "path": "model/model.pkl"}).content == payload
    assert not sentinel.exists()
    pickle.loads(payload).close()  # the payload does detonate when unpickled
    assert sentinel.exists()


# -- authentication -------------------------------------------------------------------------------
def every_endpoint() -> list[tuple[str, str]]:
    found = [(r.method, f"{prefix}/{r.path}".replace("{model_id}", "m-" + "0" * 32)
              .replace("{tag_key}", "k"))
             for r in ROUTES for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")]
    return found + [("GET", PROXY), ("GET", f"{PROXY}/1/x/artifacts/a.txt"),
                    ("PUT", f"{PROXY}/1/x/artifacts/a.txt"),
                    ("DELETE", f"{PROXY}/1/x/artifacts/a.txt"),
                    ("GET", "/get-artifact?run_uuid=x&path=a"),
                    ("GET", f"{API}get-artifact?run_uuid=x&path=a"), ("GET", "/health"),
                    ("GET", "/version"), ("GET", "/api/3.0/mlflow/server-info"),
                    ("GET", "/api/2.0/flowtrack/metrics/get-history-columns?run_id=x&metric_key=k"),
                    ("GET", "/no/such/page")]


def check_auth(server: Any, refused: list[str], accepted: str) -> None:
    for method, target in every_endpoint():
        body = b"{}" if method != "GET" else None
        for authorization in refused:
            headers = {"Authorization": authorization} if authorization else {}
            status, answer, content_type = raw_request(server, method, target, body, headers)
            assert status == 401, f"{method} {target} with {authorization!r} -> {status}"
            code = assert_mlflow_error(status, answer, content_type, target)
            assert code == "UNAUTHENTICATED"
            assert not authorization or authorization.encode() not in answer
        status, answer, _ = raw_request(server, method, target, body,
                                        {"Authorization": accepted})
        assert status != 401, f"{method} {target} refused the right credentials: {answer!r}"
    with httpx.Client(base_url=server.url, headers={"Authorization": accepted}) as client:
        assert client.get("/health").text == "OK"
        exp, run = new_run(client)
        assert client.put(f"{PROXY}/{exp}/{run}/artifacts/f.txt", content=b"x").status_code == 200
        assert client.get(f"{PROXY}/{exp}/{run}/artifacts/f.txt").content == b"x"
    with httpx.Client(base_url=server.url) as anonymous:
        resp = anonymous.get("/health")
        assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers


def test_bearer_token_from_the_environment(start_server):
    token = f"tok-{uuid.uuid4().hex}"
    server = start_server(env={"FLOWTRACK_SERVER_TOKEN": token})
    basic = base64.b64encode(f"user:{token}".encode()).decode()
    check_auth(server, ["", f"Bearer {token}x", f"Bearer {token[:-1]}", "Bearer ",
                        f"Token {token}", f"Basic {basic}", token],
               f"Bearer {token}")


def test_bearer_token_option(start_server):
    server = start_server("--auth-token", "cli-token")
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/health").status_code == 401
        assert client.get("/health", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = client.get("/health", headers={"Authorization": "bearer cli-token"})
        assert (ok.status_code, ok.text) == (200, "OK")


def test_basic_auth_users_file(start_server, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# who may call\nalice:wonder:land\n\nbob:builder\n")
    server = start_server("--basic-auth-file", str(users))

    def basic(credentials: str) -> str:
        return "Basic " + base64.b64encode(credentials.encode()).decode()

    check_auth(server, ["", basic("alice:wonder"), basic("alice:builder"), basic("carol:x"),
                        basic("alice"), "Basic !!!not-base64", "Bearer wonder:land",
                        basic("bob:builder ")],
               basic("alice:wonder:land"))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/health", headers={"Authorization": basic("bob:builder")}).text == "OK"


@pytest.mark.parametrize("args, env, named", [
    (["--auth-token", ""], {}, "--auth-token"),
    (["--auth-token", " \t "], {}, "--auth-token"),
    ([], {"FLOWTRACK_SERVER_TOKEN": ""}, "FLOWTRACK_SERVER_TOKEN"),
    ([], {"FLOWTRACK_SERVER_TOKEN": "   "}, "FLOWTRACK_SERVER_TOKEN"),
], ids=["empty option", "blank option", "empty variable", "blank variable"])
def test_an_empty_token_never_turns_authentication_off(tmp_path, args, env, named):
    from tests.processes import free_port

    full_env = dict(os.environ, FLOWTRACK_HOME=str(tmp_path), **env)
    if not env:
        full_env.pop("FLOWTRACK_SERVER_TOKEN", None)
    # were the token taken as "no authentication", the server would start: the timeout
    # then fails the test
    done = subprocess.run([sys.executable, "-m", "flowtrack", "server", "--port",
                           str(free_port()), *args], env=full_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "non-empty token" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(ConfigurationError, match="empty"):
        Auth.build(" ")


# -- limits and validation -----------------------------------------------------------------------
def test_request_and_artifact_size_limits(start_server):
    server = start_server("--max-request-mb", "1", "--max-artifact-mb", "1")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        exp, run = new_run(client)
        name = f"big-{uuid.uuid4().hex[:8]}"
        big = json.dumps({"name": name, "padding": "x" * (2 * 1024 * 1024)}).encode()
        for content in (big, iter([big[:1000], big[1000:]])):  # with and without a length
            resp = client.post(API + "experiments/create", content=content,
                               headers={"Content-Type": "application/json"})
            assert resp.status_code == 413, resp.text[:300]
            assert resp.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert client.get(API + "experiments/get-by-name",
                          params={"experiment_name": name}).status_code == 404
        near = {"name": name, "padding": "x" * 900_000}
        assert client.post(API + "experiments/create", json=near).status_code == 200

        root = f"{PROXY}/{exp}/{run}/artifacts"
        data = os.urandom(2 * 1024 * 1024)
        for path, content in (("big.bin", data), ("streamed.bin", iter([data[:10], data[10:]]))):
            resp = client.put(f"{root}/{path}", content=content)
            assert resp.status_code == 413 and resp.json()["error_code"] == \
                "REQUEST_LIMIT_EXCEEDED", resp.text[:300]
            assert client.get(f"{root}/{path}").status_code == 404
        assert client.get(PROXY, params={"path": f"{exp}/{run}/artifacts"}).json() == {}
        assert client.put(f"{root}/fits.bin", content=data[:900_000]).status_code == 200
        listed = client.get(PROXY, params={"path": f"{exp}/{run}/artifacts"}).json().get(
            "files", [])
        assert listed == [{"path": "fits.bin", "is_dir": False, "file_size": 900_000}]


@pytest.mark.parametrize("path, body", [
    ("runs/log-parameter", {"key": "k" * 251, "value": "1"}),
    ("runs/set-tag", {"key": "t" * 251, "value": "1"}),
    ("runs/log-metric", {"key": "m" * 251, "value": 1, "timestamp": 1}),
    ("runs/log-parameter", {"key": "long", "value": "v" * 6001}),
    ("runs/set-tag", {"key": "long", "value": "v" * 8001}),
    ("runs/log-metric", {"key": "../x", "value": 1, "timestamp": 1}),
    ("runs/log-metric", {"key": "/abs", "value": 1, "timestamp": 1}),
    ("runs/log-parameter", {"key": "a/../../b", "value": "1"}),
    ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 2**63}),
    ("runs/log-batch", {"metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": i}
                                    for i in range(1001)]}),
    ("runs/log-batch", {"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}),
    ("runs/log-batch", {"tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}),
    ("runs/log-batch", {"metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": i}
                                    for i in range(950)],
                        "params": [{"key": f"p{i}", "value": "1"} for i in range(51)]}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_invalid_values_are_refused(client, path, body):
    exp, run = new_run(client)
    resp = client.post(API + path, json={"run_id": run, **body})
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    data = call(client, "GET", "runs/get", {"run_id": run})["run"]["data"]
    assert data["metrics"] == [] and data["params"] == []
    assert [t["key"] for t in data["tags"]] == ["mlflow.runName"]


# -- binding -------------------------------------------------------------------------------------
def test_binds_loopback_by_default(server):
    helped = subprocess.run([sys.executable, "-m", "flowtrack", "server", "--help"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert "--host" in helped.stdout and "default: 127.0.0.1" in helped.stdout
    port = urlsplit(server.url).port
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if Path(table).exists():
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    listening.append(local.rsplit(":", 1)[0])
    assert listening == ["0100007F"]  # 127.0.0.1, and nothing on IPv6
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent; picks the outward address
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if not address.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=5).close()


@pytest.mark.parametrize("source", [
    "/etc/passwd", "file:///etc/passwd", "relative/dir", "../../x", "C:\\models\\m",
    "runs:/abc/../../etc/passwd", "s3://bucket/a/../../b", "models:/%2e%2e/x"])
def test_local_and_climbing_sources_are_refused(client, source):
    resp = client.post(API + "model-versions/create",
                       json={"name": f"src-{uuid.uuid4().hex[:8]}", "source": source})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("source", ["runs:/0123456789abcdef0123456789abcdef/model",
                                    "s3://bucket/models/m", "mlflow-artifacts:/1/models/x"])
def test_remote_sources_are_registered(client, source):
    resp = client.post(API + "model-versions/create",
                       json={"name": f"src-{uuid.uuid4().hex[:8]}", "source": source})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model_version"]["source"] == source


def test_a_version_source_must_exist_when_it_names_another_version(client):
    name = f"src-{uuid.uuid4().hex[:8]}"
    missing = client.post(API + "model-versions/create",
                          json={"name": name, "source": "models:/no-such-model/3"})
    assert missing.status_code == 404, missing.text
    client.post(API + "model-versions/create", json={"name": name, "source": "s3://b/m"})
    copied = client.post(API + "model-versions/create",
                         json={"name": name + "-copy", "source": f"models:/{name}/1"})
    assert copied.status_code == 200, copied.text
    assert copied.json()["model_version"]["source"] == f"models:/{name}/1"


def test_the_web_ui_honours_the_servers_auth(start_server):
    server = start_server("--auth-token", "ui-token")
    for path in ("/", "/models", "/static/app.css", "/ui-api/experiments"):
        assert httpx.get(server.url + path).status_code == 401
    answer = httpx.get(server.url + "/", headers={"Authorization": "Bearer ui-token"})
    assert answer.status_code == 200 and "Experiments and flows" in answer.text


# -- the web UI's downloads, and damaged blobs ----------------------------------------------------
@pytest.mark.parametrize("name", ["résumé 日本.txt", "Ελληνικά.csv", 'quote" and; semi.txt',
                                  "tab\tand\x7fdel.bin"])
def test_downloads_name_files_in_any_script(client, name):
    exp, run = new_run(client)
    data = f"bytes of {name}".encode()
    assert client.put(f"{PROXY}/{exp}/{run}/artifacts/dir/{quote(name)}",
                      content=data).status_code == 200
    assert client.get(f"{PROXY}/{exp}/{run}/artifacts/dir/{quote(name)}").content == data
    answer = client.get(f"/files/{run}/dir/{quote(name)}")
    assert (answer.status_code, answer.content) == (200, data), answer.text[:300]
    disposition = answer.headers["content-disposition"]
    assert disposition.isascii() and disposition.isprintable()
    assert disposition.startswith('attachment; filename="')
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == name  # RFC 6266: the exact name, in UTF-8
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert len(fallback) == len(name) and "\\" not in fallback


def damage(blob: Path, how: str) -> None:
    if how == "missing":
        blob.unlink()
    elif how == "truncated":
        blob.write_bytes(blob.read_bytes()[:5])
    else:
        blob.write_bytes(b"changed on disk")


def test_damaged_blobs_answer_a_clean_error_naming_the_file(start_server):
    server = start_server()
    files = {"changed.txt": "changed", "gone/table.csv": "missing",
             "short.json": "truncated"}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        exp, run = new_run(client)
        for path in [*files, "intact.txt"]:
            data = f"the bytes of {path}, ".encode() * 50
            assert client.put(f"{PROXY}/{exp}/{run}/artifacts/{path}", content=data) \
                .status_code == 200
            if path in files:
                digest = blake3.blake3(data).hexdigest()
                damage(next(server.home.rglob(digest)), files[path])
        for path in files:
            for target, mlflow_shaped in (
                    (f"{PROXY}/{exp}/{run}/artifacts/{path}", True),
                    (f"/get-artifact?run_uuid={run}&path={path}", True),
                    (f"{API}get-artifact?run_id={run}&path={path}", True),
                    (f"/ui-api/runs/{run}/preview/{path}", True),
                    (f"/files/{run}/{path}", False)):
                answer = client.get(target)
                assert answer.status_code == 500, f"{target}: {answer.text[:300]}"
                if mlflow_shaped:
                    assert assert_mlflow_error(answer.status_code, answer.content,
                                               answer.headers["content-type"], target) \
                        == "INTERNAL_ERROR"
                assert path in answer.text and run in answer.text and "damaged" in answer.text
                assert str(server.home) not in answer.text and "/blobs" not in answer.text
                assert "Traceback" not in answer.text and 'File "' not in answer.text
        assert client.get(f"/files/{run}/intact.txt").status_code == 200
    # the operator finds the blob in the log
    assert blake3.blake3(b"the bytes of changed.txt, " * 50).hexdigest() in server.log.read_text()
