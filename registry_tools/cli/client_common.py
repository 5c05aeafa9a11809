"""Options and helpers shared by the client commands (`config browse`, `search`, `info`, `install`, ...)."""

from __future__ import annotations

import functools

import click

from registry_tools.cli.output import UserError


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


def load_catalog(registry_name: str | None, refresh: bool, offline: bool, allow_expired: bool, quiet: bool = False):
    """(catalog, loaded indexes) from the configured registries; notices go to stderr."""
    from registry_tools.client import settings
    from registry_tools.client.catalog import Catalog
    from registry_tools.client.index_store import RegistryError, load_index

    try:
        config = settings.load()
        registries = [config.registry(registry_name)] if registry_name else list(config.registries)
    except settings.SettingsError as exc:
        raise UserError(str(exc)) from None
    if not registries:
        raise UserError("no registries configured; add one with: aws-research-wizard config registries add NAME LOCATION ...")
    loaded, failures = [], []
    for registry in registries:
        try:
            item = load_index(registry, refresh=refresh, offline=offline, allow_expired=allow_expired,
                              interval_hours=config.update_interval_hours)
        except RegistryError as exc:
            failures.append(str(exc))
            continue
        if item.notice and not quiet:
            click.secho(f"note: {item.notice}", err=True, fg="yellow")
        if item.trusted.expired and not quiet:
            click.secho(f"warning: registry {registry.name}: the index expired "
                        f"{item.trusted.age_description(item.fetched_at)} ago; used because of --allow-expired",
                        err=True, fg="yellow")
        loaded.append(item)
    if not loaded:
        raise UserError("\n".join(failures))
    for failure in failures:
        click.secho(f"warning: {failure}", err=True, fg="yellow")
    catalog = Catalog.from_indexes(loaded)
    catalog.failures.extend(failures)
    return catalog, loaded
