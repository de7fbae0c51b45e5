"""The code package: which files a run stores, ``Run.code``, identical packages for
identical code, and extraction that refuses entries leaving the target directory."""

from __future__ import annotations

import io
import tarfile

import pytest

from flowtrack import Run, namespace
from flowtrack.client import CodePackageError, unpack_tar
from tests.conftest import reset_client
from tests.runtime.conftest import run_id_of

FLOW = """
import json
from flowtrack import FlowSpec, step
from lib.scoring import score


class CodeFlow(FlowSpec):
    @step
    def start(self):
        self.value = score(3)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CodeFlow()
"""


@pytest.fixture
def project(tmp_path, write_flow):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "scoring.py").write_text("def score(x):\n    return x * 7\n")
    (tmp_path / "unused.py").write_text("raise SystemExit('never imported')\n")
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "hidden.py").write_text("")
    (tmp_path / "env" / "lib").mkdir(parents=True)  # a virtualenv under another name
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "env" / "lib" / "six.py").write_text("")
    (tmp_path / "notes.txt").write_text("not code")
    return write_flow(FLOW, "code_flow.py")


def test_the_run_stores_the_flow_file_and_the_python_files_beside_it(
        project, run_flow, tmp_path):
    first = run_flow(project, "run", check=True)
    second = run_flow(project, "run", check=True)
    reset_client()
    namespace(None)
    run = Run(f"CodeFlow/{run_id_of(first)}")
    code = run.code
    # imported modules and the other .py files (a step may import one late); not the
    # virtualenv kept in the project, nor other files
    assert code.files == ["code_flow.py", "lib/__init__.py", "lib/scoring.py", "unused.py"]
    assert code.script_name == "code_flow.py"
    assert code.read("lib/scoring.py") == "def score(x):\n    return x * 7\n"
    assert "class CodeFlow(FlowSpec)" in code.flowspec
    assert Run(f"CodeFlow/{run_id_of(second)}").code.digest == code.digest  # stored once
    target = tmp_path / "checkout"
    assert code.extract(target) == str(target)
    assert (target / "lib" / "scoring.py").read_text().startswith("def score")
    assert not (target / "notes.txt").exists() and not (target / ".venv").exists()
    with pytest.raises(CodePackageError, match="has no file 'notes.txt'"):
        code.read("notes.txt")


def test_changed_code_gives_a_new_package(project, run_flow, tmp_path):
    first = run_flow(project, "run", check=True)
    (tmp_path / "lib" / "scoring.py").write_text("def score(x):\n    return x * 8\n")
    second = run_flow(project, "run", check=True)
    reset_client()
    namespace(None)
    old, new = Run(f"CodeFlow/{run_id_of(first)}"), Run(f"CodeFlow/{run_id_of(second)}")
    assert old.code.digest != new.code.digest
    assert "x * 7" in old.code.read("lib/scoring.py")  # the old run keeps its code
    assert new.data.value == 24


def _tar_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as tar:
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../escape.py", "/abs/escape.py", "lib/../../escape.py"])
def test_unpacking_refuses_paths_that_leave_the_target(tmp_path, name):
    data = _tar_with(tarfile.TarInfo(name), b"x")
    with pytest.raises(CodePackageError, match="unsafe entry"):
        unpack_tar(data, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_unpacking_refuses_links(tmp_path):
    link = tarfile.TarInfo("passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(CodePackageError, match="unsafe entry 'passwd'"):
        unpack_tar(_tar_with(link), tmp_path / "out")
    assert not (tmp_path / "out" / "passwd").exists()
