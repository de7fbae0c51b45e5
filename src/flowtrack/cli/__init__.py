"""Command lines: a flow file's (``python flow.py ...``) and ``flowtrack``'s own."""

from ._flowcli import build_cli, run_flow_cli
from ._main import flowtrack_cli, main

__all__ = ["build_cli", "flowtrack_cli", "main", "run_flow_cli"]
