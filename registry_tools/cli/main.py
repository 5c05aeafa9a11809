"""Command line entry points: ``aws-research-wizard`` / ``arw`` and the standalone group programs.

This module only wires groups together. Groups are imported when they are
invoked (``LazyGroup``), and each command imports what it needs (rich, yaml,
boto3, cfn-lint, ...) inside its body, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

from registry_tools import __version__
from registry_tools.cli.help_text import GROUPS, MAX_WIDTH, PROG, ROOT_HELP
from registry_tools.cli.output import Group

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": MAX_WIDTH}


class LazyGroup(Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *GROUPS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in GROUPS:
            module, attribute, _ = GROUPS[name]
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, GROUPS[name][2]) for name in sorted(GROUPS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings=CONTEXT, help=ROOT_HELP)
@click.version_option(__version__, "-V", "--version", prog_name=PROG)
def cli() -> None:
    pass


def main() -> None:
    cli(prog_name=PROG)


def config_main() -> None:
    from registry_tools.cli.config_cmd import config

    config.context_settings = CONTEXT
    config(prog_name="aws-research-wizard-config")
