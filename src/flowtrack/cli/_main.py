"""The ``flowtrack`` console script: store information, flows, database upgrades."""

from __future__ import annotations

import sys

import click

from .._config import settings
from ._errors import run_reporting_errors
from ._flowcli import run_flow_cli
from ._lineage import lineage_command
from ._server import server_command, ui_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowtrack")
def flowtrack_cli() -> None:
    """flowtrack: flows, experiment tracking and lineage in one store."""


@flowtrack_cli.command()
def info() -> None:
    """Show where metadata and blobs are stored."""
    cfg = settings()
    click.echo(f"home:      {cfg.home}")
    click.echo(f"metadata:  {cfg.metadata_url}")
    click.echo(f"blobs:     {cfg.store_url}")
    click.echo(f"user:      {cfg.user}")


@flowtrack_cli.command()
def flows() -> None:
    """List the flows in the store with their latest run."""
    from ..client import Metaflow, namespace

    namespace(None)
    found = False
    for flow in Metaflow():
        found = True
        latest = flow.latest_run
        status = f"{latest.id} {latest.status}" if latest else "no runs"
        click.echo(f"{flow.id:30s} latest run: {status}")
    if not found:
        click.echo("No flows in this store yet.")


flowtrack_cli.add_command(lineage_command)
flowtrack_cli.add_command(server_command)
flowtrack_cli.add_command(ui_command)


@flowtrack_cli.group()
def db() -> None:
    """Manage the metadata database."""


@db.command()
@click.argument("url", required=False)
def upgrade(url: str | None) -> None:
    """Migrate the metadata database at URL (default: FLOWTRACK_METADATA, else the
    project's) to the current schema."""
    from ..lineage import upgrade as do_upgrade

    url = url or settings().metadata_url
    do_upgrade(url)
    click.echo(f"{url}: schema is current.")


def main(flow_cls: type | None = None) -> None:
    """``flowtrack`` console script; with a flow class, that flow's command line."""
    if flow_cls is not None:
        run_flow_cli(flow_cls)
        return
    args = sys.argv[1:]
    run_reporting_errors(lambda: flowtrack_cli.main(args, prog_name="flowtrack",
                                                    standalone_mode=False), args)


if __name__ == "__main__":
    main()
