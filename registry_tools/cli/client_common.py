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


def allow_insecure_option(fn):
    """``--allow-insecure RULE_ID`` (repeatable): let a pack whose template fails that security rule past
    the install/deploy policy (``client.policy``); unknown rule ids are usage errors."""

    def known(ctx, param, values):
        from registry_tools.client.policy import known_rules

        try:
            return known_rules(values)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option("--allow-insecure", "allow_insecure", multiple=True, metavar="RULE_ID", callback=known,
                        help="Accept a template that fails this security rule (e.g. E9101); recorded, and warned "
                             "about every time. Repeatable.")(fn)


def notifier(quiet: bool):
    """Registry notices on stderr; with *quiet* (JSON output) only failed registries."""
    from registry_tools.client.index_store import ALWAYS_SHOWN, NOTICE_PREFIX
    from registry_tools.textsafe import printable_lines

    def notify(level: str, text: str) -> None:
        if not quiet or level in ALWAYS_SHOWN:
            click.secho(f"{NOTICE_PREFIX[level]}: {printable_lines(text)}", err=True, fg="yellow")

    return notify


def load_catalog(registry_name: str | None, refresh: bool, offline: bool, allow_expired: bool, quiet: bool = False):
    """(catalog, loaded indexes) from the configured registries; notices go to stderr unless *quiet*."""
    from registry_tools.client.index_store import RegistryError, load_registries

    try:
        return load_registries(registry_name, now=command_now(), refresh=refresh, offline=offline,
                               allow_expired=allow_expired, notify=notifier(quiet))
    except RegistryError as exc:
        raise UserError(str(exc)) from None
