"""The ``metaflow`` -> ``flowtrack`` alias table, and writing the shim package from it.

Metaflow's generated flows and checkers import ``metaflow``; the harness puts a package
of that name first on ``PYTHONPATH`` whose every name is an alias of a flowtrack
object. ``MODULES`` below is the whole shim: for each Metaflow module, the flowtrack
module it delegates unknown names to (``module``), and explicit ``names``:

* ``"flowtrack.x"``: the flowtrack object (if flowtrack lacks it at run time, a
  placeholder that raises ``FlowtrackLacks`` when used, see ``_shim_runtime.py``);
* ``None``: Metaflow has it, flowtrack has nothing like it: always a placeholder;
* ``"helper:NAME"``: a small generic helper only the checkers need, defined in
  ``_shim_runtime.CHECK_HELPERS``.

The top-level ``metaflow`` module delegates every other name to ``flowtrack`` lazily,
which is ``from flowtrack import *`` without paying for loading ``flowtrack.tracking``
(about a second) in every flow and checker process.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from _extension_loader import card_packages, load_extensions, render_entry_points

# Metaflow's top-level names that test/core uses (generated header, @tag decorators,
# step bodies, checkers), each pointing at flowtrack's top-level name.
_TOP_LEVEL = [
    # authoring
    "FlowSpec", "step", "Parameter", "IncludeFile", "JSONType", "current", "project",
    "Config", "config_expr", "FlowMutator", "StepMutator", "UserStepDecorator",
    "user_step_decorator", "parallel", "pytorch_parallel", "StepDecorator", "FlowDecorator",
    # step decorators named by the tests' @tag(...)
    "catch", "retry", "timeout", "environment", "resources", "card", "secrets",
    "unbounded_test_foreach_internal", "pypi", "pypi_base", "conda", "conda_base",
    # client
    "Flow", "Run", "Step", "Task", "DataArtifact", "Metaflow", "namespace",
    "get_namespace", "default_namespace", "get_metadata", "metadata",
]

MODULES: dict[str, dict] = {
    "metaflow": {"module": "flowtrack",
                 "names": {name: f"flowtrack.{name}" for name in _TOP_LEVEL}},
    "metaflow.exception": {"module": "flowtrack.exception", "names": {}},
    "metaflow.metaflow_current": {"module": "flowtrack.metaflow_current", "names": {}},
    "metaflow.client": {"module": "flowtrack.client", "names": {}},
    "metaflow.includefile": {"module": None, "names": {
        "IncludeFile": "flowtrack.IncludeFile",
        "IncludedFile": None,  # Metaflow's value type of an IncludeFile artifact
    }},
    "metaflow.decorators": {"module": None, "names": {
        "StepDecorator": "flowtrack.StepDecorator", "FlowDecorator": "flowtrack.FlowDecorator",
    }},
    "metaflow.plugins.frameworks": {"module": None, "names": {}},
    "metaflow.plugins.frameworks.pytorch": {"module": None, "names": {
        "PytorchParallelDecorator": "flowtrack.flow.PytorchParallelDecorator",
        "setup_torch_distributed": "flowtrack.flow.setup_torch_distributed",
    }},
    "metaflow.util": {"module": None, "names": {"is_stringish": "helper:is_stringish"}},
    # cards: flowtrack.cards where flowtrack has it (placeholders where it does not)
    "metaflow.cards": {"module": "flowtrack.cards",
                       "names": {"get_cards": "flowtrack.cards.get_cards"}},
    "metaflow.plugins": {"module": None, "names": {
        # Metaflow's test-only unbounded foreach input (see FIXTURES)
        "InternalTestUnboundedForeachInput": "metaflow_test_ubf.InternalTestUnboundedForeachInput",
    }},
    "metaflow.unbounded_foreach": {"module": "flowtrack.unbounded_foreach", "names": {}},
    "metaflow.plugins.cards": {"module": None, "names": {}},
    # the package holding Metaflow's test card types (see FIXTURES)
    "metaflow.plugins.cards.card_modules": {"module": "flowtrack.cards", "names": {}},
    # written over by its fixture (FIXTURES): listed so its package is generated
    "metaflow.plugins.cards.card_modules.test_cards": {"module": None, "names": {}},
    "metaflow.plugins.cards.card_client": {"module": None, "names": {
        "Card": "flowtrack.cards.Card", "get_cards": "flowtrack.cards.get_cards",
    }},
    "metaflow.plugins.cards.exception": {"module": None, "names": {
        "CardNotPresentException": "flowtrack.cards.CardNotPresentException",
    }},
}

_MODULE_SOURCE = '''"""{name}: generated alias module (flowtrack benchmarks/compat shim)."""
from metaflow._shim_runtime import install

install(__name__)
'''


def _module_path(root: Path, name: str, table: dict[str, dict]) -> Path:
    """The file of shim module ``name``: a package ``__init__`` when it has children."""
    parts = name.split(".")
    is_package = any(other.startswith(name + ".") for other in table)
    if is_package:
        return root.joinpath(*parts, "__init__.py")
    return root.joinpath(*parts[:-1], parts[-1] + ".py")


# Test fixtures Metaflow ships inside its package (card types its tests name), in our
# own implementation on flowtrack's public card API: copied into the shim, and the
# test_org extension's cards offered as an installed package would (an entry point).
FIXTURES = {"_test_cards.py": "metaflow/plugins/cards/card_modules/test_cards.py",
            "_test_org_cards.py": "metaflow_test_org_cards.py",
            "_test_ubf.py": "metaflow_test_ubf.py"}
# the decorator of Metaflow's unbounded-foreach tests, offered as a plug-in would be
_TEST_UBF_DECORATOR = ("unbounded_test_foreach_internal = "
                       "metaflow_test_ubf:InternalTestUnboundedForeachDecorator")
_TEST_ORG_CARDS = ["simplecard = metaflow_test_org_cards:CARDS",
                   "brokencard = metaflow_test_org_brokencard:CARDS"]
# the generated flows name Metaflow's test card types without importing them
_REGISTER_TEST_CARDS = ("\n# Metaflow's test card types, registered as its plugins are\n"
                        "from metaflow.plugins.cards.card_modules import test_cards  # noqa\n")


def write_shim(root: Path, extensions: Path | None = None,
               packages: Path | None = None) -> Path:
    """Write the ``metaflow`` shim package under ``root``; return ``root`` (for
    PYTHONPATH). ``extensions``: a ``metaflow_extensions`` directory (test/core's) to
    install as Metaflow's loader would; ``packages``: a directory of extension
    packages (test/extensions/packages) whose card types to install (see
    ``_extension_loader.py``)."""
    package = root / "metaflow"
    package.mkdir(parents=True, exist_ok=True)
    table = copy.deepcopy(MODULES)
    entry_points = {"flowtrack.cards": list(_TEST_ORG_CARDS),
                    "flowtrack.step_decorators": [_TEST_UBF_DECORATOR]}
    if extensions is not None and extensions.is_dir():
        shutil.copytree(extensions, root / extensions.name, dirs_exist_ok=True)
        load_extensions(extensions, table, entry_points)
    if packages is not None and packages.is_dir():
        card_packages(packages, root, entry_points)
    for name in table:
        path = _module_path(root, name, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_MODULE_SOURCE.format(name=name), encoding="utf-8")
    shutil.copy(Path(__file__).with_name("_shim_runtime.py"), package / "_shim_runtime.py")
    (package / "shim_table.json").write_text(json.dumps(table, indent=1), encoding="utf-8")
    for source, target in FIXTURES.items():
        shutil.copy(Path(__file__).with_name(source), root / target)
    with (package / "__init__.py").open("a", encoding="utf-8") as init:
        init.write(_REGISTER_TEST_CARDS)
    dist_info = root / "flowtrack_test_org-0.0.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: flowtrack-test-org\n"
                                        "Version: 0.0\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(render_entry_points(entry_points),
                                                encoding="utf-8")
    return root


_DESCRIBE = r"""
import json, sys
from metaflow import _shim_runtime as rt
rows = []
for module, entry in rt.TABLE.items():
    mod = __import__(module, fromlist=["x"])
    if entry["module"]:
        found = rt.flowtrack_module(entry["module"]) is not None
        rows.append([module, "module " + entry["module"],
                     "delegates" if found else "absent (only listed names, as placeholders)"])
    for name, target in entry["names"].items():
        value = getattr(mod, name)
        lacking = isinstance(value, rt._PlaceholderMeta)
        status = "placeholder" if lacking else "alias"
        if target and target.startswith("helper:"):
            status = "check-only helper"
        rows.append([module + "." + name, target or "-", status])
import flowtrack
json.dump({"rows": rows, "flowtrack": flowtrack.__file__}, sys.stdout)
"""


def describe_command(python: str) -> list[str]:
    """A command printing, as JSON rows, what every shim entry resolves to right now."""
    return [python, "-c", _DESCRIBE]
