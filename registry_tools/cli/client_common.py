"""Options and helpers shared by the client commands (`config browse`, `search`, `info`, `install`, ...)."""

from __future__ import annotations

import functools

import click

from registry_tools.cli.output import UserError, command_now


def index_options(fn):
    """--registry, --refresh, --offline, --allow-expired."""

    @click.option("--registry", "registry_name", metavar="NAME", help="Use only this configured registry.")
    @click.option("--refresh", is_flag=True, help="Check the registries for a new index now.")
    @click.option("--offline", is_flag=True, help="Never touch the network; use the cached indexes.")
    @click.option("--allow-expired", is_flag=True, help="Accept an expired index (shows its age).")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def notifier(quiet: bool):
    """Registry notices on stderr; with *quiet* (JSON output) only failed registries."""
    from registry_tools.client.index_store import NOTICE_PREFIX

    def notify(level: str, text: str) -> None:
        if not quiet or level == "failed":
            click.secho(f"{NOTICE_PREFIX[level]}: {text}", err=True, fg="yellow")

    return notify


def load_catalog(registry_name: str | None, refresh: bool, offline: bool, allow_expired: bool, quiet: bool = False):
    """(catalog, loaded indexes) from the configured registries; notices go to stderr unless *quiet*."""
    from registry_tools.client.index_store import RegistryError, load_registries

    try:
        return load_registries(registry_name, now=command_now(), refresh=refresh, offline=offline,
                               allow_expired=allow_expired, notify=notifier(quiet))
    except RegistryError as exc:
        raise UserError(str(exc)) from None
