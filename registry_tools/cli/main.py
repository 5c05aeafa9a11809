"""Command line entry points: ``aws-research-wizard`` / ``arw`` and the standalone group programs.

This module only wires groups together. Groups are imported when they are
invoked (``LazyGroup``), and each command imports what it needs (rich, yaml,
boto3, cfn-lint, ...) inside its body, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

from registry_tools import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# name -> (module, attribute, one-line help shown by --help without importing the module)
GROUPS = {
    "config": ("registry_tools.cli.config_cmd", "config", "Show and manage the client's configuration and state."),
    "registry": ("registry_tools.cli.registry_cmd", "registry",
                 "Maintainer tools: validate, build, sign, publish and version domain packs."),
    "sandbox": ("registry_tools.cli.sandbox_cmd", "sandbox",
                "Run a local AWS emulator (moto) to try everything without an AWS account."),
}


class LazyGroup(click.Group):
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


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="aws-research-wizard")
def cli() -> None:
    """AWS Research Wizard: ready-made, versioned AWS research environments.

    Domain packs (genomics, climate modelling, machine learning, ...) are
    validated, priced and secure CloudFormation environments. Browse them with
    `registry list`, check them with `registry validate`, and try the flow
    without an AWS account in the local `sandbox`.

    State lives in ~/.aws-research-wizard (override with ARW_HOME).
    """


def main() -> None:
    cli(prog_name="aws-research-wizard")


def config_main() -> None:
    from registry_tools.cli.config_cmd import config

    config.context_settings = CONTEXT
    config(prog_name="aws-research-wizard-config")
