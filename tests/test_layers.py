"""The import-layer contracts in pyproject.toml ([tool.importlinter]) hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# the interpreter's own import-linter, so a stale console-script shim cannot interfere
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def test_import_layers_are_respected():
    proc = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Layers point down only KEPT" in output
    assert "lineage and store never import each other KEPT" in output
    assert "0 broken" in output
