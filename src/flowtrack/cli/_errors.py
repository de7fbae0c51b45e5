"""How the command line reports errors: one paragraph, no traceback unless asked."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from .._errors import FlowtrackError


def wants_traceback(argv: list[str]) -> bool:
    return "--traceback" in argv or os.environ.get("FLOWTRACK_TRACEBACK") == "1"


def report(exc: FlowtrackError) -> None:
    """Print a user error as one paragraph."""
    click.secho(f"{exc.headline}: ", fg="red", bold=True, err=True, nl=False)
    click.echo(exc.message, err=True)


def run_reporting_errors(entry: Callable[[], Any], argv: list[str]) -> None:
    """Run a click entry point in non-standalone mode and turn errors into exits."""
    try:
        entry()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FlowtrackError as exc:
        if wants_traceback(argv):
            traceback.print_exc()
        report(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug in flowtrack: still one paragraph, details on request
        if wants_traceback(argv):
            traceback.print_exc()
        click.secho("Internal error: ", fg="red", bold=True, err=True, nl=False)
        click.echo(f"{type(exc).__name__}: {exc}. This is a flowtrack bug; rerun with "
                   "--traceback (or FLOWTRACK_TRACEBACK=1) to see where it happened, and "
                   "report it.", err=True)
        sys.exit(1)
