"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a free port, in a thread."""

import socket

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Keeper:
    def __init__(self) -> None:
        self.received: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.received.append(envelope)
        return "250 OK"


class SmtpServer:
    """``start()``, ``stop()``; ``port`` stays the same across restarts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._keeper = _Keeper()
        self._controller: Controller | None = None

    @property
    def received(self) -> list:
        return self._keeper.received

    def start(self) -> None:
        self._controller = Controller(self._keeper, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
