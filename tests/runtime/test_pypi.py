"""@pypi / @pypi_base on the local executor: steps in their own virtualenvs (built
with uv from the package index, cached), two versions of one package in one flow,
the resolved versions on the task, and clear errors for what cannot be built."""

from __future__ import annotations

import importlib.metadata

import pytest

from flowtrack import Run, namespace
from flowtrack.runtime._pypi import PythonEnv, requirement, step_environment
from tests.conftest import reset_client
from tests.runtime.conftest import run_id_of

DRIVER_CLICK = importlib.metadata.version("click")
OLD_CLICK, OTHER_CLICK = "8.1.3", "8.1.7"

PYPI_FLOW = f"""
import importlib.metadata
import sys
from flowtrack import FlowSpec, pypi, pypi_base, step
from helper import shout


@pypi_base(packages={{"six": "1.16.0"}})
class PypiFlow(FlowSpec):
    @pypi(packages={{"click": "{OLD_CLICK}"}})
    @step
    def start(self):
        import click, six
        self.start_click = importlib.metadata.version("click")
        self.six_version = six.__version__
        self.start_python = sys.executable
        self.greeting = shout("hi")
        self.next(self.other)

    @pypi(packages={{"click": "{OTHER_CLICK}"}})
    @step
    def other(self):
        import click
        self.other_click = importlib.metadata.version("click")
        self.seen = self.greeting  # a value written in another environment
        self.next(self.end)

    @pypi(disabled=True)
    @step
    def end(self):
        self.end_click = importlib.metadata.version("click")


if __name__ == "__main__":
    PypiFlow()
"""

HELPER = """
def shout(text):
    return text.upper() + "!"
"""


@pytest.fixture
def pypi_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "pypi-envs"  # shared by this session's tests
    monkeypatch.setenv("FLOWTRACK_PYPI_CACHE", str(cache))
    return cache


def test_two_steps_use_two_versions_of_a_package_neither_the_drivers(
        write_flow, run_flow, store_env, pypi_cache):
    assert DRIVER_CLICK not in (OLD_CLICK, OTHER_CLICK)
    write_flow(HELPER, "helper.py")
    path = write_flow(PYPI_FLOW, "pypi_flow.py")
    first = run_flow(path, "run", env={"FLOWTRACK_PYPI_CACHE": str(pypi_cache)}, check=True,
                     timeout=600)
    reset_client()
    namespace(None)
    run = Run(f"PypiFlow/{run_id_of(first)}")
    start, other, end = run["start"].task, run["other"].task, run["end"].task
    assert start.data.start_click == OLD_CLICK and start.data.six_version == "1.16.0"
    assert other.data.other_click == OTHER_CLICK and other.data.seen == "HI!"
    assert end.data.end_click == DRIVER_CLICK  # disabled=True: the flow's own environment
    assert start.data.start_python.startswith(str(pypi_cache))
    meta = start.metadata_dict
    assert meta["requirements"] == [f"click=={OLD_CLICK}", "six==1.16.0"]
    assert meta["packages"]["click"] == OLD_CLICK and meta["packages"]["six"] == "1.16.0"
    assert "python" in meta["packages"]
    assert other.metadata_dict["packages"]["click"] == OTHER_CLICK
    assert "packages" not in end.metadata_dict

    again = run_flow(path, "run", env={"FLOWTRACK_PYPI_CACHE": str(pypi_cache)}, check=True,
                     timeout=600)
    assert "Building the Python environment" in first.stdout
    assert "Building the Python environment" not in again.stdout  # cached by requirements


def test_a_package_that_does_not_resolve_is_a_clear_error_and_records_no_run(
        write_flow, run_flow, store_env, pypi_cache):
    path = write_flow("""
        from flowtrack import FlowSpec, pypi, step

        class BadPypiFlow(FlowSpec):
            @pypi(packages={"click": "0.0.0.1"})
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            BadPypiFlow()
    """, "bad_pypi_flow.py")
    proc = run_flow(path, "run", env={"FLOWTRACK_PYPI_CACHE": str(pypi_cache)}, timeout=600)
    assert proc.returncode == 1
    assert "Could not build the Python environment for click==0.0.0.1" in proc.stderr
    assert "Check the package names and versions in @pypi/@pypi_base" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Workflow starting" not in proc.stdout


def test_a_python_version_that_is_not_installed_is_a_clear_error(
        write_flow, run_flow, store_env, pypi_cache):
    path = write_flow("""
        from flowtrack import FlowSpec, pypi_base, step

        @pypi_base(packages={}, python="3.4")
        class OldPythonFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            OldPythonFlow()
    """, "old_python_flow.py")
    proc = run_flow(path, "run", env={"FLOWTRACK_PYPI_CACHE": str(pypi_cache),
                                      "UV_PYTHON_DOWNLOADS": "never"}, timeout=300)
    assert proc.returncode == 1
    assert "Could not build the Python environment for no packages on Python 3.4" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("name", "version", "expected"), [
    ("scikit-learn", "1.5.2", "scikit-learn==1.5.2"),
    ("numpy", ">=1.26,<3", "numpy>=1.26,<3"),
    ("requests", "", "requests"),
    ("ray[default]", "2.60.0", "ray[default]==2.60.0"),
])
def test_requirements_pin_bare_versions_and_keep_specifiers(name, version, expected):
    assert requirement(name, version) == expected


def test_step_packages_override_the_flow_base_and_disabled_opts_out():
    base = {"packages": {"Scikit_Learn": "1.4.0", "pandas": "2.2.3"}, "python": "3.11"}
    env = step_environment(base, {"packages": {"scikit-learn": "1.5.2"}, "python": None,
                                  "disabled": False})
    assert env == PythonEnv(("pandas==2.2.3", "scikit-learn==1.5.2"), "3.11")
    assert step_environment(base, {"packages": {}, "python": None, "disabled": True}) is None
    assert step_environment(None, None) is None
    assert step_environment(base, None).key == step_environment(base, None).key
    assert step_environment(base, None).key != env.key


S3_PYPI_FLOW = """
from flowtrack import FlowSpec, pypi, step


class S3PypiFlow(FlowSpec):
    @pypi(packages={"six": "1.16.0"})
    @step
    def start(self):
        import six
        self.blob = b"x" * 5000 + six.__version__.encode()  # big enough to be a blob
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    S3PypiFlow()
"""


def test_a_pypi_step_reaches_an_object_store(write_flow, run_flow, store_env, pypi_cache):
    from tests.s3_server import CREDENTIALS, new_bucket, s3_server

    path = write_flow(S3_PYPI_FLOW, "s3_pypi_flow.py")
    with s3_server() as endpoint:
        env = {**CREDENTIALS, "FLOWTRACK_S3_ENDPOINT_URL": endpoint,
               "FLOWTRACK_STORE": f"s3://{new_bucket(endpoint)}/blobs",
               "FLOWTRACK_PYPI_CACHE": str(pypi_cache)}
        proc = run_flow(path, "run", env=env, check=True, timeout=600)
        reset_client()
        namespace(None)
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            reset_client()
            run = Run(f"S3PypiFlow/{run_id_of(proc)}")
            assert run["start"].task.data.blob.endswith(b"1.16.0")
            assert run["start"].task.metadata_dict["packages"]["six"] == "1.16.0"
    reset_client()
