"""``config install`` without click.

``entry.main`` hands ``config install`` arguments to ``run``. When they are plain (what
``options.parse(options.INSTALL, ...)`` takes: ``SPEC``, ``--registry NAME``, ``--json``,
``--offline``, ``--refresh``, ``--allow-expired``), ``run`` installs through the same use case
as the click command (``client.requests.install_spec``) and returns True, so an install does not
pay for importing click; anything else returns False and click runs. Notices and errors are
printed by ``cli/report.py``, as click prints them: ``Error: ...`` on stderr, exit code 1.
"""

from __future__ import annotations

import sys

from registry_tools.cli import options


def run(args: list[str]) -> bool:
    """Answer `config install ARGS`; False when the click command must."""
    values = options.parse(options.INSTALL, args)
    if values is None:
        return False
    from registry_tools import clock
    from registry_tools.cli import report
    from registry_tools.client.requests import install_spec
    from registry_tools.errors import ArwError

    quiet = values["as_json"]
    try:
        text = install_spec(values["spec"], values["registry_name"], now=clock.now(), refresh=values["refresh"],
                            offline=values["offline"], allow_expired=values["allow_expired"], as_json=quiet,
                            notify=report.notifier(quiet))
    except ArwError as exc:
        report.fail(exc)
    sys.stdout.write(text + "\n")
    return True
