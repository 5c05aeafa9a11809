"""Optional parts of the install ("extras") and the one error for a command whose extra is missing.

A researcher's ``pip install aws-research-wizard`` has the client (browse, install, deploy,
sessions, monitor, signature checks); ``[maintainer]`` adds what only pack maintainers run:
cfn-lint (``registry validate`` / ``build``, ``config validate``'s template lint) and mkdocs
(``registry site``); ``[sandbox]`` adds the local AWS emulator (moto).
"""

from __future__ import annotations

import importlib.util

from registry_tools.cli.output import UserError

MAINTAINER = "maintainer"
LINT_MODULES = ("cfnlint",)
SITE_MODULES = ("mkdocs", "material", "cmarkgfm")


def install_command(extra: str) -> str:
    return f"pip install 'aws-research-wizard[{extra}]'"


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """The modules of *modules* that cannot be imported (looked up, not imported: no startup cost)."""
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def require_extra(modules: tuple[str, ...], extra: str, what: str, alternative: str = "") -> None:
    """Raise the CLI's ``UserError`` naming the extra to install when any of *modules* is missing.

    *what* says who needs it, e.g. "`registry site` needs mkdocs"; *alternative* is an optional
    way around it (e.g. "or pass --no-lint")."""
    missing = missing_modules(modules)
    if missing:
        tail = f" ({alternative})" if alternative else ""
        raise UserError(f"{what}, part of the {extra} tools, which are not installed "
                        f"(missing: {', '.join(missing)}): {install_command(extra)}{tail}")
