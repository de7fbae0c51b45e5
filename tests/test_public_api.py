"""The public API: each package's ``__all__`` matches what it exposes, and imports stay light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types

import pytest

PACKAGES = ["flowtrack", "flowtrack.flow", "flowtrack.store", "flowtrack.lineage",
            "flowtrack.runtime", "flowtrack.client", "flowtrack.cli", "flowtrack.tracking",
            "flowtrack.sklearn", "flowtrack.pyfunc", "flowtrack.data", "flowtrack.server",
            "flowtrack.tracking.service", "flowtrack.ui", "flowtrack.exception", "flowtrack.cards",
            "flowtrack.metaflow_current"]

METAFLOW_NAMES = {
    "FlowSpec", "step", "Parameter", "JSONType", "IncludeFile", "current", "retry", "catch",
    "timeout", "resources", "environment", "pypi", "pypi_base", "project", "parallel",
    "pytorch_parallel", "card", "secrets", "Config", "config_expr", "user_step_decorator",
    "UserStepDecorator", "StepMutator", "FlowMutator", "Flow", "Run", "Step", "Task",
    "DataArtifact", "namespace", "get_namespace", "default_namespace", "get_metadata",
    "Metaflow",
}
# flowtrack's own top-level names besides the tracking API: the base classes of
# extension decorators (Metaflow keeps them in metaflow.decorators)
FLOWTRACK_NAMES = {"FlowtrackError", "StepDecorator", "FlowDecorator"}

def exposed_names(module: types.ModuleType) -> set[str]:
    """Public names the module exposes: not starting with '_', not modules (submodules or
    imported ones like ``sys``), not ``annotations`` from ``from __future__ import``; names
    served lazily through a module ``__dir__``/``__getattr__`` count too."""
    names = set(vars(module)) | set(dir(module))
    return {n for n in names
            if not n.startswith("_") and n != "annotations"
            and not isinstance(getattr(module, n, None), types.ModuleType)}


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_all_resolves(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list)
    assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"
    for attr in module.__all__:
        assert not attr.startswith("_")
        value = getattr(module, attr)  # lazy names resolve too
        assert not isinstance(value, types.ModuleType), attr
    namespace: dict = {}
    exec(f"from {name} import *", namespace)
    assert set(module.__all__) <= set(namespace)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_exposed_names(name):
    module = importlib.import_module(name)
    exposed = exposed_names(module)
    declared = set(module.__all__)
    assert not declared - exposed, f"in __all__ but not exposed: {sorted(declared - exposed)}"
    assert not exposed - declared, f"exposed but not in __all__: {sorted(exposed - declared)}"


def test_flowtrack_has_the_metaflow_names():
    import flowtrack

    assert METAFLOW_NAMES <= set(flowtrack.__all__)
    from flowtrack.tracking import FLUENT_NAMES

    assert set(flowtrack.__all__) - METAFLOW_NAMES == {*FLOWTRACK_NAMES, *FLUENT_NAMES}
    for name in METAFLOW_NAMES:
        assert getattr(flowtrack, name) is not None


def test_flowtrack_names_are_the_subpackages_objects():
    import flowtrack
    import flowtrack.client as client
    import flowtrack.flow as flow

    for name in ("FlowSpec", "step", "Parameter", "JSONType", "IncludeFile", "current",
                 "retry", "catch", "timeout", "resources", "environment", "pypi", "pypi_base",
                 "project", "parallel", "pytorch_parallel", "card", "secrets", "Config",
                 "config_expr", "user_step_decorator", "UserStepDecorator", "StepMutator",
                 "FlowMutator", "StepDecorator", "FlowDecorator"):
        assert getattr(flowtrack, name) is getattr(flow, name), name
    for name in ("Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
                 "default_namespace", "get_metadata", "Metaflow"):
        assert getattr(flowtrack, name) is getattr(client, name), name
    assert "Flow" in dir(flowtrack)


def test_unknown_attribute_raises_attribute_error():
    import flowtrack

    with pytest.raises(AttributeError, match="no_such_thing"):
        flowtrack.no_such_thing  # noqa: B018
    assert not hasattr(flowtrack, "Nope")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c",
         f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=60, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


HEAVY = {"sqlalchemy", "click", "rich", "numpy", "pandas", "alembic"}


def test_import_flowtrack_is_light():
    loaded = _modules_after("import flowtrack")
    assert "flowtrack" in loaded
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_authoring_a_flow_is_light():
    loaded = _modules_after(
        "from flowtrack import FlowSpec, step, Parameter, retry, catch, current\n"
        "class F(FlowSpec):\n"
        "    x = Parameter('x', default=1)\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n")
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_client_names_load_the_client_on_first_use():
    loaded = _modules_after("import flowtrack\nflowtrack.Flow")
    assert "sqlalchemy" in loaded  # the client needs the lineage layer, loaded lazily
