"""A running image and an open RPC session with it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.build import Manifest
from harness.errors import InfrastructureError
from harness.link.session import Session
from harness.link.transport import Transport
from harness.rpc import RPCClient
from harness.targets import StartOptions

DEFAULT_TIMEOUT = 10.0  # a session's timeout on a target whose timeout_multiplier is 1


class Device:
    """Start the image, open the framed session and the RPC server; reopen after a reset.

    `timeout` (default DEFAULT_TIMEOUT) is scaled here, and only here, by the target's
    timeout_multiplier: callers pass their own scale of it (a run's --timeout-multiplier, a lab
    board's), never the target's."""

    def __init__(self, manifest: Manifest, timeout: float | None = None, workdir: Path | None = None,
                 options: StartOptions | None = None) -> None:
        self.manifest = manifest
        self.options = options or StartOptions()
        self.target = manifest.target
        self.timeout = (timeout or DEFAULT_TIMEOUT) * self.target.timeout_multiplier
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="utvm-dev-"))
        self.transport: Transport | None = None
        self.session: Session | None = None
        self.client: RPCClient | None = None

    def start(self, after_open: Callable[[], None] | None = None) -> RPCClient:
        """Start the image, then (after `after_open`, e.g. a board reset) open the session."""
        self.transport = self.target.start(Path(self.manifest.artifact), self.workdir, self.options)
        try:
            self.transport.open()
            if after_open is not None:
                after_open()
            return self.reconnect()
        except BaseException:
            self.stop()  # never leave a process or container behind
            raise

    def reconnect(self) -> RPCClient:
        """A new session on the running device (a StartInit resets device state)."""
        if self.transport is None:
            raise InfrastructureError("device is not started")
        self.session = Session(self.transport, timeout=self.timeout)
        self.session.open()
        self.client = RPCClient(self.session)
        self.client.init_server()
        self.session.mtu = self.client.max_packet_size
        return self.client

    def stop(self) -> None:
        try:
            if self.session is not None:
                self.session.close()
        finally:
            if self.transport is not None:
                self.transport.close()
            self.session = self.client = self.transport = None

    def __enter__(self) -> RPCClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
