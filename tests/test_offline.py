"""The suite never leaves 127.0.0.1: conftest's guard refuses any other connection or name lookup
loudly (an error no network fallback catches, and a failed test even when something does)."""

from __future__ import annotations

import socket
import threading

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli

from . import conftest


@pytest.fixture
def expect_blocked():
    """For tests of the guard itself: the refused attempts they make on purpose are cleared."""
    yield conftest._blocked
    del conftest._blocked[:]


def test_connections_and_lookups_outside_loopback_are_refused(expect_blocked):
    with socket.socket() as sock, pytest.raises(conftest.LoopbackOnly, match="connecting to '192.0.2.1' was refused"):
        sock.connect(("192.0.2.1", 443))
    with pytest.raises(conftest.LoopbackOnly, match="looking up 'example.org'"):
        socket.getaddrinfo("example.org", 443)
    assert not issubclass(conftest.LoopbackOnly, OSError)  # network fallbacks catch OSError; this must get through
    assert expect_blocked == ["connecting to '192.0.2.1'", "looking up 'example.org'"]


def test_loopback_is_allowed():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    with socket.create_connection(server.getsockname(), timeout=5):
        thread.join(5)
    accepted[0].close()
    server.close()
    assert socket.getaddrinfo("localhost", 80) and socket.getaddrinfo("127.0.0.2", 80)


def test_the_default_public_registry_cannot_be_reached_from_a_test(expect_blocked):
    """Without a config the client uses the public registry; a test that forgets to configure a
    loopback one fails with the guard's error instead of quietly using the network."""
    result = CliRunner().invoke(cli, ["config", "browse", "--refresh"])
    assert isinstance(result.exception, conftest.LoopbackOnly), result.output
    assert expect_blocked and "aws-research-wizard.github.io" in expect_blocked[0]
