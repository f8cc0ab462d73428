"""kazoo's connection log as `ConnectionLog` reads it: each reason a server cannot be
reached said once until it changes or a session is made, and whether every server said
no (refused, or a name that does not resolve) so that waiting cannot help."""

from __future__ import annotations

import logging

from election.runtime.connection_log import ConnectionLog, cause_of


def kazoo(log: ConnectionLog) -> logging.Logger:
    """A logger like kazoo's client's, whose only handler is `log`."""
    logger = logging.Logger("kazoo-like", logging.DEBUG)
    logger.addHandler(log)
    return logger


def attempt(logger: logging.Logger, host: str, address: str, port: int, error: str) -> None:
    logger.info("Connecting to %s(%s):%s, use_ssl: %r", host, address, port, False)
    logger.warning("Connection dropped: socket connection error: %s", error)


def test_each_reason_is_said_once_until_it_changes_or_a_session_is_made() -> None:
    said: list[tuple[str, str]] = []
    logger = kazoo(ConnectionLog(announce=lambda server, cause: said.append((server, cause))))
    for _ in range(5):  # kazoo retries, and says it every time
        logger.warning(
            "Cannot resolve %s: %s", "zk3.invalid", "[Errno -2] Name or service not known"
        )
        attempt(logger, "zk1", "10.0.0.1", 2181, "Connection refused")
    assert said == [
        ("zk3.invalid", "cannot resolve zk3.invalid: Name or service not known"),
        ("zk1:2181", "connection refused"),
    ]
    attempt(logger, "zk1", "10.0.0.1", 2181, "No route to host")  # a new reason: news
    assert said[-1] == ("zk1:2181", "no route to host")
    logger.info("Zookeeper connection established, state: %s", "CONNECTED")
    attempt(logger, "zk1", "10.0.0.1", 2181, "No route to host")  # after a session: news again
    assert said[-1] == ("zk1:2181", "no route to host") and len(said) == 4


def test_describe_names_every_server_that_failed_and_forgets_them_once_connected() -> None:
    log = ConnectionLog()
    logger = kazoo(log)
    assert log.describe() == ""
    attempt(logger, "127.0.0.1", "127.0.0.1", 1, "Connection refused")
    logger.warning(
        "Cannot resolve %s: %s", "nohost.invalid", "[Errno -2] Name or service not known"
    )
    assert log.describe() == (
        "127.0.0.1:1: connection refused; "
        "nohost.invalid: cannot resolve nohost.invalid: Name or service not known"
    )
    logger.info("Zookeeper connection established, state: %s", "CONNECTED")
    assert log.describe() == ""


def test_other_lines_go_to_the_passthrough_at_its_level_and_reasons_do_not() -> None:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    passthrough = logging.Logger("passthrough", logging.WARNING)
    passthrough.addHandler(Keep())
    logger = kazoo(ConnectionLog(passthrough=passthrough))
    attempt(logger, "zk1", "10.0.0.1", 2181, "Connection refused")
    logger.info("Zookeeper connection lost")  # below the passthrough's level
    logger.warning("Transition to CONNECTING")
    assert seen == ["Transition to CONNECTING"]


def test_every_server_said_no_only_when_every_address_refused_or_a_name_does_not_resolve() -> None:
    log = ConnectionLog()
    logger = kazoo(log)
    servers = ("localhost:2181", "nohost.invalid:2181")
    addresses = {("localhost", 2181): ["::1", "127.0.0.1"]}

    def resolve(host: str, port: int) -> list[str]:
        return addresses.get((host, port), [])

    assert not log.all_said_no(servers, resolve)
    logger.warning(
        "Cannot resolve %s: %s", "nohost.invalid", "[Errno -2] Name or service not known"
    )
    attempt(logger, "localhost", "::1", 2181, "Connection refused")
    assert not log.all_said_no(servers, resolve)  # 127.0.0.1 may yet answer
    logger.info("Connecting to %s(%s):%s, use_ssl: %r", "localhost", "127.0.0.1", 2181, False)
    logger.warning("Connection time-out: %s", "timed out")  # silent: it may answer later
    assert not log.all_said_no(servers, resolve)
    attempt(logger, "localhost", "127.0.0.1", 2181, "Connection refused")
    assert log.all_said_no(servers, resolve)
    assert not log.all_said_no((*servers, "zk9:2181"), resolve)  # one never tried


def test_kazoo_warnings_become_the_cause_an_operator_reads() -> None:
    assert cause_of("Connection dropped: socket connection error: Connection refused") == (
        "connection refused"
    )
    assert cause_of("Connection time-out: 5") == "no answer (timed out)"
    assert cause_of("Cannot resolve zk9: [Errno -2] Name or service not known") == (
        "cannot resolve zk9: Name or service not known"
    )
    assert cause_of("Transition to CONNECTING") == ""
    assert cause_of("Failed connecting to Zookeeper within the connection retry policy.") == ""


def test_the_causes_are_kept_per_server() -> None:
    causes = ConnectionLog()
    logger = logging.Logger("test", logging.INFO)
    logger.addHandler(causes)
    logger.info("Connecting to %s(%s):%s, use_ssl: %r", "zk1", "10.0.0.1", 2181, False)
    logger.warning("Connection dropped: %s", "socket connection error: Connection refused")
    logger.info("Connecting to %s(%s):%s, use_ssl: %r", "zk2", "10.0.0.2", 2181, False)
    logger.warning("Connection dropped: %s", "socket connection error: No route to host")
    logger.warning("Cannot resolve %s: %s", "zk3", "[Errno -2] Name or service not known")
    assert causes.describe() == (
        "zk1:2181: connection refused; zk2:2181: no route to host; "
        "zk3: cannot resolve zk3: Name or service not known"
    )
