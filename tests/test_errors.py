"""One error root: every error type of the package is an ``ArwError``, and a command that lets one
escape prints one ``Error:`` line (and its hint) with exit code 1, never a traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import pytest
from click.testing import CliRunner

import registry_tools
from registry_tools.cli.output import Command, Group
from registry_tools.errors import ArwError

NOT_ERRORS = {"Detached", "_Conflict"}  # control flow inside one module, never shown to a user


def exception_classes() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(registry_tools.__path__, "registry_tools."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_error_type_of_the_package_derives_from_arw_error():
    classes = exception_classes()
    assert len(classes) > 25
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, ArwError)
                    and name.rpartition(".")[2] not in NOT_ERRORS)
    assert strays == []


def test_diagnostics_carry_the_hint_on_its_own_line():
    assert ArwError("the index expired").diagnostics() == "the index expired"
    error = ArwError("the index expired", hint="run `config update --refresh`")
    assert error.diagnostics() == "the index expired\n  hint: run `config update --refresh`"


class _Stale(ArwError, LookupError):
    exit_code = 1


@pytest.mark.parametrize("nested", [False, True])
def test_a_command_that_lets_an_arw_error_escape_prints_it_once_without_a_traceback(nested):
    @click.command(cls=Command)
    def fails():
        raise _Stale("registry demo: the index expired 3.0 days ago", hint="ask its maintainer to rebuild it")

    root = fails
    if nested:
        root = Group("root")
        sub = Group("sub")
        sub.add_command(fails, "fails")
        root.add_command(sub, "sub")
    result = CliRunner().invoke(root, ["sub", "fails"] if nested else [])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and not isinstance(result.exception, _Stale)
    assert result.output.count("Error: registry demo: the index expired 3.0 days ago") == 1
    assert "hint: ask its maintainer to rebuild it" in result.output


def test_other_exceptions_are_bugs_and_keep_their_traceback():
    @click.command(cls=Command)
    def breaks():
        raise KeyError("a bug")

    result = CliRunner().invoke(breaks, [])
    assert isinstance(result.exception, KeyError)
