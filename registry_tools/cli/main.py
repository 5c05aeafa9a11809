"""Command line entry points: ``aws-research-wizard`` / ``arw`` and the standalone group programs.

This module only wires groups together. Each command imports what it needs
(rich, yaml, boto3, cfn-lint, ...) inside its body so ``--help`` stays fast.
"""

from __future__ import annotations

import click

from registry_tools import __version__
from registry_tools.cli.config_cmd import config
from registry_tools.cli.registry_cmd import registry
from registry_tools.cli.sandbox_cmd import sandbox

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="aws-research-wizard")
def cli() -> None:
    """AWS Research Wizard: ready-made, versioned AWS research environments.

    Domain packs (genomics, climate modelling, machine learning, ...) are
    validated, priced and secure CloudFormation environments. Browse them with
    `registry list`, check them with `registry validate`, and try the flow
    without an AWS account in the local `sandbox`.

    State lives in ~/.aws-research-wizard (override with ARW_HOME).
    """


cli.add_command(config)
cli.add_command(registry)
cli.add_command(sandbox)


def main() -> None:
    cli(prog_name="aws-research-wizard")


def config_main() -> None:
    config.context_settings = CONTEXT
    config(prog_name="aws-research-wizard-config")
