"""Options and helpers shared by the client commands (`config browse`, `search`, `info`, `install`, ...)."""

from __future__ import annotations

import click

from registry_tools.cli.output import command_now


def index_options(fn):
    """--registry, --refresh, --offline, --allow-expired, as ``cli.options`` describes them."""
    from registry_tools.cli import options

    return options.click_params(options.Spec((options.REGISTRY, options.REFRESH, options.OFFLINE,
                                              options.ALLOW_EXPIRED)))(fn)


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


def load_catalog(registry_name: str | None, refresh: bool, offline: bool, allow_expired: bool, quiet: bool = False):
    """(catalog, loaded indexes) from the configured registries; notices go to stderr unless *quiet*."""
    from registry_tools.cli import report
    from registry_tools.client.index_store import load_registries

    return load_registries(registry_name, now=command_now(), refresh=refresh, offline=offline,
                           allow_expired=allow_expired, notify=report.notifier(quiet))
