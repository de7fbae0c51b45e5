"""Metaflow's extension loader, done once by the harness for the extension packages
under ``test/core/metaflow_extensions`` (``test_org``).

Metaflow finds ``metaflow_extensions.<org>`` packages at import time and merges them
into its own namespace; flowtrack's extension mechanism is entry points (see
``flowtrack/flow/_extensions.py``). This module maps one onto the other without
running the extension's code (it reads the files with ``ast``):

* ``plugins/mfextinit_<org>.py``: ``STEP_DECORATORS_DESC`` / ``FLOW_DECORATORS_DESC``
  become ``flowtrack.step_decorators`` / ``flowtrack.flow_decorators`` entry points
  (flowtrack registers and runs them); ``__mf_promote_submodules__`` makes
  ``metaflow.plugins.<sub>...`` the extension's modules, and a Metaflow module the
  extension replaces stays reachable as ``..._orig.<name>``, as in Metaflow;
* ``config/mfextinit_<org>.py``: its names join ``metaflow.metaflow_config``;
* ``exceptions/mfextinit_<org>.py``: its names join ``metaflow.exception``;
* ``toplevel/mfextinit_<org>.py``: the names of the module it names join ``metaflow``;
* ``plugins/cards``: the ``CARDS`` lists Metaflow's card loader reads (its
  ``mfextinit_*.py``, else its ``__init__.py`` and its sub-packages') become
  ``flowtrack.cards`` entry points.

``card_packages`` does the cards part for the installable extension packages of
``test/extensions/packages`` (what Metaflow's test setup pip-installs).

The result is more rows of the shim table (``_shim.MODULES``) and entry points.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

PACKAGE = "metaflow_extensions"


def _module_values(path: Path) -> dict[str, Any]:
    """The literal values assigned at the top of ``path`` (name -> value)."""
    values: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                values[node.targets[0].id] = None  # not a literal: only its name matters
    return values


def _public_names(path: Path) -> list[str]:
    """The public names ``path`` defines at its top (classes, functions, variables)."""
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return [n for n in names if not n.startswith("_")]


def _merge_names(table: dict[str, dict], shim_module: str, source_module: str,
                 names: list[str]) -> None:
    entry = table.setdefault(shim_module, {"module": None, "names": {}})
    entry["names"].update({name: f"{source_module}.{name}" for name in names})


EntryPoints = dict[str, list[str]]  # group -> "name = module:attr" lines


def render_entry_points(entry_points: EntryPoints) -> str:
    """The text of an ``entry_points.txt``."""
    return "".join(f"[{group}]\n" + "".join(f"{line}\n" for line in lines)
                   for group, lines in entry_points.items() if lines)


def _decorator_entry_points(org: str, declared: dict[str, Any],
                            entry_points: EntryPoints) -> None:
    for desc, group in (("STEP_DECORATORS_DESC", "flowtrack.step_decorators"),
                        ("FLOW_DECORATORS_DESC", "flowtrack.flow_decorators")):
        for name, relative in declared.get(desc) or []:
            module, _, attr = f"{PACKAGE}.{org}.plugins{relative}".rpartition(".")
            entry_points.setdefault(group, []).append(f"{name} = {module}:{attr}")


def _promote_submodules(table: dict[str, dict], org: str, plugins: Path,
                        submodules: list[str]) -> None:
    """``metaflow.plugins.<sub>[.x]`` become the extension's modules; a shim row the
    extension replaces moves to ``metaflow.plugins.<sub>._orig.<x>``."""
    for sub in submodules:
        root = plugins / sub
        files = sorted(root.rglob("*.py")) if root.is_dir() else [plugins / f"{sub}.py"]
        for file in files:
            relative = file.relative_to(plugins).with_suffix("").parts
            if relative[-1] == "__init__":
                relative = relative[:-1]
            name = "metaflow.plugins." + ".".join(relative)
            original = table.get(name)
            if original is not None and len(relative) > 1:
                orig_name = ".".join(["metaflow.plugins", *relative[:-1], "_orig", relative[-1]])
                table[orig_name] = original
            table[name] = {"module": f"{PACKAGE}.{org}.plugins." + ".".join(relative),
                           "names": {}}


def _defines_cards(path: Path) -> bool:
    return path.exists() and "CARDS" in _public_names(path)


def _card_entry_points(org: str, cards_dir: Path) -> list[str]:
    """Entry points for the ``CARDS`` lists of one extension's ``plugins/cards``."""
    if not cards_dir.is_dir():
        return []
    base = f"{PACKAGE}.{org}.plugins.cards"
    found = [f"{base}.{p.stem}" for p in sorted(cards_dir.glob("mfextinit_*.py"))
             if _defines_cards(p)]
    if not found:
        if _defines_cards(cards_dir / "__init__.py"):
            found.append(base)
        found.extend(f"{base}.{sub.name}" for sub in sorted(cards_dir.iterdir())
                     if sub.is_dir() and _defines_cards(sub / "__init__.py"))
    return [f"{org}_{module.rsplit('.', 1)[-1]} = {module}:CARDS" for module in found]


def card_packages(packages_root: Path, shim_root: Path, entry_points: EntryPoints) -> None:
    """Install each package's ``metaflow_extensions`` tree under ``shim_root`` and add
    the ``flowtrack.cards`` entry points of their card types."""
    for package in sorted(p for p in packages_root.iterdir() if p.is_dir()):
        tree = package / PACKAGE
        if not tree.is_dir():
            continue
        shutil.copytree(tree, shim_root / PACKAGE, dirs_exist_ok=True)
        for org_dir in sorted(p for p in tree.iterdir() if p.is_dir()):
            entry_points.setdefault("flowtrack.cards", []).extend(
                _card_entry_points(org_dir.name, org_dir / "plugins" / "cards"))


def load_extensions(ext_root: Path, table: dict[str, dict], entry_points: EntryPoints) -> None:
    """Add the shim rows of every extension org under ``ext_root`` to ``table`` and
    their decorators to ``entry_points``."""
    for org_dir in sorted(p for p in ext_root.iterdir() if p.is_dir()):
        org = org_dir.name
        init = org_dir / "plugins" / f"mfextinit_{org}.py"
        if init.exists():
            declared = _module_values(init)
            _decorator_entry_points(org, declared, entry_points)
            _promote_submodules(table, org, org_dir / "plugins",
                                declared.get("__mf_promote_submodules__") or [])
        for part, shim_module in (("config", "metaflow.metaflow_config"),
                                  ("exceptions", "metaflow.exception")):
            path = org_dir / part / f"mfextinit_{org}.py"
            if path.exists():
                _merge_names(table, shim_module, f"{PACKAGE}.{org}.{part}.mfextinit_{org}",
                             _public_names(path))
        toplevel = org_dir / "toplevel" / f"mfextinit_{org}.py"
        if toplevel.exists():
            module = _module_values(toplevel).get("toplevel")
            path = org_dir / "toplevel" / f"{module}.py"
            if module and path.exists():
                _merge_names(table, "metaflow", f"{PACKAGE}.{org}.toplevel.{module}",
                             _public_names(path))
