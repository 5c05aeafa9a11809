"""``config install``: the whole request (pins, registries, install, output) without click.

``install_spec`` is what the click command runs; ``entry.main`` also calls ``run`` for
plain arguments (``SPEC``, ``--registry NAME``, ``--json``, ``--offline``, ``--refresh``,
``--allow-expired``) so an install does not pay for importing click. Errors are printed
the way click prints a ``UserError``: ``Error: ...`` on stderr, exit code 1.
"""

from __future__ import annotations

import json
import os
import sys

FLAGS = ("--offline", "--refresh", "--allow-expired", "--json")


class Refused(Exception):
    """The install cannot be done as asked (the message says why)."""


def install_request(spec: str, registry_name: str | None = None, *, now, refresh: bool = False, offline: bool = False,
                    allow_expired: bool = False, notify=lambda level, text: None, purpose: str = "install",
                    allow_insecure=()):
    """Install NAME[@VERSION|@CONSTRAINT] honouring pins and the security policy (*allow_insecure*:
    rule ids let past it), as of *now* (index expiry, cache age, receipt time); its receipt
    (``Refused`` when it cannot)."""
    from registry_tools.client import pins
    from registry_tools.client.index_store import RegistryError, load_registries
    from registry_tools.client.install import InstallError, install

    name, _, requested = spec.partition("@")
    try:
        pin = pins.holding(name, requested, purpose)
        catalog, loaded = load_registries(registry_name, now=now, refresh=refresh, offline=offline,
                                          allow_expired=allow_expired, notify=notify)
        return install(catalog, loaded, name, pin.version if pin else (requested or None), now=now,
                       expected_sha256=pin.sha256 if pin else None, allow_insecure=allow_insecure,
                       warn=lambda line: notify("insecure", line))
    except (pins.PinsError, RegistryError, InstallError) as exc:
        raise Refused(str(exc)) from None


def install_spec(spec: str, registry_name: str | None = None, *, now, refresh: bool = False, offline: bool = False,
                 allow_expired: bool = False, as_json: bool = False, notify=lambda level, text: None,
                 allow_insecure=()) -> str:
    """Install NAME[@VERSION|@CONSTRAINT] honouring pins; the text to print."""
    from registry_tools.client.install import installed_dir

    receipt = install_request(spec, registry_name, now=now, refresh=refresh, offline=offline,
                              allow_expired=allow_expired, notify=notify, allow_insecure=allow_insecure)
    path = installed_dir(receipt.name, receipt.version)
    if as_json:
        return json.dumps({**receipt.to_dict(), "path": str(path)}, indent=2, default=str)
    from registry_tools.textsafe import printable_lines

    return printable_lines(f"Installed {receipt.name} {receipt.version} from registry {receipt.registry} "
                           f"(sha256 {receipt.sha256[:12]}..., signed by {receipt.signer})\n  -> {path}")


def parse(args: list[str]) -> tuple[str, str | None, set[str]] | None:
    """(spec, registry, flags) for plain arguments, else None."""
    spec, registry, flags, rest = None, None, set(), list(args)
    while rest:
        arg = rest.pop(0)
        if arg in FLAGS:
            flags.add(arg)
        elif arg == "--registry" and rest and not rest[0].startswith("-"):
            registry = rest.pop(0)
        elif arg.startswith("--registry=") and len(arg) > len("--registry="):
            registry = arg.partition("=")[2]
        elif arg.startswith("-") or spec is not None:
            return None
        else:
            spec = arg
    return None if spec is None else (spec, registry, flags)


def _say(stream, text: str, color: str) -> None:
    from registry_tools.textsafe import printable_lines

    text = printable_lines(text)  # errors and notices may quote a registry's index
    tty = stream.isatty() and "NO_COLOR" not in os.environ
    stream.write(f"\x1b[{color}m{text}\x1b[0m\n" if tty else text + "\n")


def run(args: list[str]) -> bool:
    parsed = parse(args)
    if parsed is None:
        return False
    spec, registry, flags = parsed
    from registry_tools import clock
    from registry_tools.client.index_store import ALWAYS_SHOWN, NOTICE_PREFIX

    quiet = "--json" in flags

    def notify(level: str, text: str) -> None:
        if not quiet or level in ALWAYS_SHOWN:
            _say(sys.stderr, f"{NOTICE_PREFIX[level]}: {text}", "33")

    try:
        text = install_spec(spec, registry, now=clock.now(), refresh="--refresh" in flags, offline="--offline" in flags,
                            allow_expired="--allow-expired" in flags, as_json=quiet, notify=notify)
    except Refused as exc:
        _say(sys.stderr, f"Error: {exc}", "31")
        sys.exit(1)
    sys.stdout.write(text + "\n")
    return True
