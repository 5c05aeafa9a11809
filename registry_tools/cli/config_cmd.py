"""``config``: where the tool keeps its state and what it is configured with."""

from __future__ import annotations

import click

from registry_tools.cli.output import emit_json


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def config() -> None:
    """Show and manage the client's configuration and state directory."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def show(as_json: bool) -> None:
    """Show the state directory, config file and bundled price table."""
    import os

    from registry_tools import __version__
    from registry_tools.config import STATE_DIR_ENV, state_dir
    from registry_tools.pricing.catalogue import Catalogue

    home = state_dir()
    catalogue = Catalogue.load()
    info = {
        "version": __version__,
        "state_dir": str(home),
        "state_dir_source": STATE_DIR_ENV if os.environ.get(STATE_DIR_ENV) else "default",
        "state_dir_exists": home.is_dir(),
        "config_file": str(home / "config.yaml"),
        "price_table_date": catalogue.price_date,
        "price_table_instance_types": len(catalogue.instances),
        "regions": list(catalogue.regions),
    }
    if as_json:
        emit_json(info)
        return
    width = max(len(k) for k in info)
    for key, value in info.items():
        click.echo(f"{key.replace('_', ' '):<{width}}  {value}")
