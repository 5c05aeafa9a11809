"""The options of the commands the console scripts answer without click, described once.

``config search``, ``config install`` and ``sessions list`` (also ``deploy sessions list``) are
each a ``Spec``: its argument and its ``Opt``s. The click command applies it with
``click_params(SPEC)`` (click is imported inside that function, so this module stays light);
the fast paths (``cli/fast_*.py``, called by ``entry.py``) read the same arguments with
``parse(SPEC, args)``, which returns the values by parameter name, or None whenever click might
read them differently or report an error: an option the fast path does not take
(``fast=False``, unknown, ``--help``), a bad value, ``--flag=value``, ``--``, a missing or extra
argument. Then click runs. ``tests/test_fast_path_parity.py`` runs both on the same arguments.

Values are named tuples, not dataclasses: the fast paths start without importing dataclasses.
"""

from __future__ import annotations

import re
from collections import namedtuple

from registry_tools.names import REGISTRY_NAME  # safe in a file name too (the search snapshot of one registry)

FLAG, INT, TEXT = "flag", "int", "text"

# One option. kind: FLAG (a boolean switch), INT (bounds: inclusive (low, high)) or TEXT (the fast
# path takes only values matching pattern, when given; click decides about any other); fast: the
# fast path can answer with it (else the arguments go to click).
Opt = namedtuple("Opt", "flag dest help kind metavar default bounds pattern show_default multiple fast",
                 defaults=(FLAG, None, None, None, None, False, False, True))
# A command's parameters: its options, and its one argument (parameter name and metavar), if any.
Spec = namedtuple("Spec", "options argument metavar", defaults=((), None, None))

STATE_ENV = "ARW_SESSION_STATE"
SANDBOX_ENV = "ARW_SANDBOX"

JSON = Opt("--json", "as_json", "Print machine-readable JSON.")
REGISTRY = Opt("--registry", "registry_name", "Use only this configured registry.", TEXT, metavar="NAME",
               pattern=REGISTRY_NAME)
REFRESH = Opt("--refresh", "refresh", "Check the registries for a new index now.")
OFFLINE = Opt("--offline", "offline", "Never touch the network; use the cached indexes.")
ALLOW_EXPIRED = Opt("--allow-expired", "allow_expired", "Accept an expired index (shows its age).")

SEARCH = Spec((REGISTRY, REFRESH._replace(fast=False), OFFLINE, ALLOW_EXPIRED._replace(fast=False),
               Opt("--limit", "limit", "Most results to show.", INT, default=20, bounds=(1, 500), show_default=True),
               JSON), "query")
# --allow-insecure (``client_common.allow_insecure_option``, shared with deploy) is click's alone
INSTALL = Spec((REGISTRY, REFRESH, OFFLINE, ALLOW_EXPIRED, JSON._replace(help="Print the receipt as JSON.")),
               "spec", "NAME[@VERSION|@CONSTRAINT]")
# every `sessions` command's; --sandbox changes nothing for local session storage, the only kind the fast path reads
SESSION = (
    Opt("--profile", "profile", "AWS profile (default: AWS_PROFILE, else the default credentials; an existing "
        "session uses the profile it was deployed with).", TEXT, metavar="NAME", fast=False),
    Opt("--sandbox", "sandbox", f"Use the local AWS emulator (also ${SANDBOX_ENV}=1)."),
    Opt("--state", "state", f"Session storage in S3 (default: config session_state or ${STATE_ENV}; else local).",
        TEXT, metavar="s3://BUCKET/PREFIX", fast=False),
)
SESSIONS_LIST = Spec((
    Opt("--all", "show_all", "Include finished and archived sessions."),
    JSON,
    Opt("--mine", "mine", "Only sessions launched by the AWS identity in use (profile, sandbox).", fast=False),
    *SESSION,
))


def click_params(spec: Spec):
    """A decorator adding *spec*'s argument and options to a click command, in the order described."""
    import click

    def apply(fn):
        for opt in reversed(spec.options):
            if opt.kind == FLAG:
                fn = click.option(opt.flag, opt.dest, is_flag=True, help=opt.help)(fn)
                continue
            kind = click.IntRange(*opt.bounds) if opt.kind == INT and opt.bounds else int if opt.kind == INT else None
            fn = click.option(opt.flag, opt.dest, type=kind, metavar=opt.metavar, default=opt.default,
                              multiple=opt.multiple, show_default=opt.show_default, help=opt.help)(fn)
        if spec.argument:
            fn = click.argument(spec.argument, metavar=spec.metavar)(fn)
        return fn

    return apply


def _value(opt: Opt, text: str):
    """*text* as *opt*'s value, or None when the fast path leaves it to click."""
    if opt.kind == INT:
        if not (text.isascii() and text.isdigit()):  # click's int() also takes "+5", " 5", "5_0": click answers
            return None
        number = int(text)
        low, high = opt.bounds or (number, number)
        return number if low <= number <= high else None
    return text if opt.pattern is None or re.fullmatch(opt.pattern, text) else None


def parse(spec: Spec, args: list[str]) -> dict | None:
    """The values of *args* by parameter name, as click would pass them to the command; None when
    the fast path does not take these arguments exactly as click would (click then reads them)."""
    options = {opt.flag: opt for opt in spec.options}
    values: dict = {opt.dest: () if opt.multiple else False if opt.kind == FLAG else opt.default for opt in spec.options}
    argument = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            if spec.argument is None or argument is not None:
                return None  # click: unexpected extra argument
            argument = arg
            continue
        flag, eq, text = arg.partition("=")
        opt = options.get(flag)
        if opt is None or not opt.fast:
            return None  # --help, --, -h, unknown or click's alone
        if opt.kind == FLAG:
            if eq:
                return None  # click: the option does not take a value
            values[opt.dest] = True
            continue
        if not eq:
            if not rest:
                return None
            text = rest.pop(0)
        value = _value(opt, text)
        if value is None:
            return None
        values[opt.dest] = (*values[opt.dest], value) if opt.multiple else value
    if spec.argument is not None:
        if argument is None:
            return None  # click: missing argument
        values[spec.argument] = argument
    return values
