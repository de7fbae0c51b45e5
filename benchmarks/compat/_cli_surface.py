"""Which command-line options of Metaflow's test runner and CLI checker flowtrack lacks.

Pairs report only the *first* thing that fails, so a missing ``dump`` option stays
hidden while a pair fails earlier. This probe compares, once per harness run, the
commands and options that Metaflow's ``run_tests.py`` and ``metaflow_test/cli_check.py``
pass to ``test_flow.py`` with the ``--help`` of a trivial flow on flowtrack (through the
same ``metaflow`` shim). ``USED`` is read off those two files of the snapshot; update it
when they change.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# command (words after the top-level options; "" = top level) -> options passed to it
USED = {
    "": ["--quiet", "--no-lint"],  # --no-lint: what --no-pylint maps to
    "run": ["--max-workers", "--max-num-splits", "--tag", "--run-id-file"],
    "resume": ["--max-workers", "--max-num-splits", "--tag", "--run-id-file"],
    "dump": ["--max-value-size", "--private", "--include", "--file"],
    "logs": ["--stdout", "--stderr"],
    "tag add": ["--run-id"],
    "tag remove": ["--run-id"],
    "tag list": ["--flat", "--hide-system-tags", "--run-id"],
    "tag replace": ["--run-id", "--remove", "--add"],
    "card list": ["--as-json", "--file", "--type"],
    "card get": ["--type", "--hash", "--id"],
}

PROBE_FLOW = '''from metaflow import FlowSpec, step


class ProbeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProbeFlow()
'''
OPTION = re.compile(r"(?<![\w-])(--[\w-]+)")


def _help(python: str, directory: Path, env: dict, command: str) -> tuple[int, str]:
    cmd = [python, "probe_flow.py", *command.split(), "--help"]
    proc = subprocess.run(cmd, cwd=directory, env=env, capture_output=True, text=True,
                          errors="replace", timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _options(help_text: str) -> set[str]:
    section = help_text.split("Options:", 1)[-1].split("Commands:", 1)[0]
    return set(OPTION.findall(section))


def missing_cli(python: str, directory: Path, env: dict) -> list[str]:
    """``dump --private``, ``command card``...: what flowtrack's flow CLI lacks of ``USED``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "probe_flow.py").write_text(PROBE_FLOW, encoding="utf-8")
    missing = []
    for command, options in USED.items():
        rc, text = _help(python, directory, env, command)
        if rc:
            found = re.search(r"No such command '?([\w-]+)'?", text)
            name = found.group(1) if found else command
            missing.append(f"command {command} (No such command {name!r})" if found
                           else f"command {command}: {text.strip().splitlines()[-1:]}")
            continue
        have = _options(text)
        missing.extend(f"{command} {o}".strip() for o in options if o not in have)
    return missing
