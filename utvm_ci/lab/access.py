"""How the runner reaches a board's serial port: directly, or through a labgrid place.

An Access is acquired for the night and released after; `acquire` returns what
pyserial opens (a device path, or `rfc2217://host:port` for a port a labgrid
exporter serves). Board kinds are a registry, not a chain of ifs.

A labgrid place is reached through labgrid's Python client (labgrid==26.0.1, the
`lab` extra), never by reading what `labgrid-client` prints:

- `labgrid.remote.client.ClientSession` connects to the coordinator (gRPC) and
  mirrors its places and resources as objects (`Place`, `ResourceEntry`); its
  public `get_place`, `check_matches` and `get_target_resources` resolve the place,
  check its exporters are up and list what an acquired place holds.
- Acquiring and releasing: labgrid has no public Python call for these (the
  session's `acquire`/`release` are the CLI's commands: they need an argparse
  namespace and print), so they go through the coordinator's own gRPC requests,
  `AcquirePlace` and `ReleasePlace(fromuser=us)` from labgrid's generated
  protocol module, as labgrid-client sends them. The protocol is the coordinator
  and client's contract, the most stable surface there is; ReleasePlace with
  `fromuser` releases only a place we still hold, atomically on the coordinator.
- The serial port becomes labgrid's `NetworkSerialPort` resource (made by
  `target_factory` on a throwaway `Target`, as a `RemotePlace` expands it), and
  its host and port come from `proxymanager.get_host_and_port`, so the URL is the
  one labgrid's SerialDriver would open. A `RemotePlace` itself is not used: its
  manager is a process-wide singleton with one coordinator session, while the
  runner acquires places from worker threads, possibly on several coordinators.

Every coordinator conversation is a fresh session, bounded by LABGRID_TIMEOUT, one
at a time, on one event loop thread shared by the process (see _labgrid_loop and
_one_at_a_time); every failure is an InfrastructureError.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from harness.errors import InfrastructureError
from utvm_ci.lab.inventory import Board

if TYPE_CHECKING:
    from labgrid.remote.client import ClientSession
    from labgrid.remote.common import Place, ResourceEntry

T = TypeVar("T")
LABGRID_TIMEOUT = 60.0  # seconds for one conversation with the coordinator (connect, acquire, list)
DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid-client's default


class Access(ABC):
    @abstractmethod
    def acquire(self) -> str: ...

    @abstractmethod
    def release(self) -> None: ...


class SerialAccess(Access):
    """A port on this machine; it must exist when the night starts."""

    def __init__(self, board: Board) -> None:
        self.port = board.port or ""

    def acquire(self) -> str:
        if "://" not in self.port and not os.path.exists(self.port):
            raise InfrastructureError(f"serial port {self.port} does not exist (board unplugged?)")
        return self.port

    def release(self) -> None:
        pass


class LabgridAccess(Access):
    """A labgrid place: acquired through the coordinator, its NetworkSerialPort opened over RFC 2217.

    The coordinator is the inventory's, or LG_COORDINATOR's as for labgrid-client.
    """

    def __init__(self, board: Board) -> None:
        self.place = board.labgrid_place or ""
        self.coordinator = board.labgrid_coordinator or os.environ.get("LG_COORDINATOR", DEFAULT_COORDINATOR)
        self.acquired = False  # we asked the coordinator for the place: release must give it back

    def acquire(self) -> str:
        try:
            return serial_url(self.place, self._talk("acquiring", self._acquire))
        except InfrastructureError as exc:
            if self.acquired:
                try:
                    self.release()
                except InfrastructureError as again:
                    raise InfrastructureError(f"{exc}\n(and releasing the place failed: {again})") from exc
            raise

    def release(self) -> None:
        if self.acquired:
            self.acquired = False
            self._talk("releasing", self._release)

    # ---- a conversation with the coordinator ----
    def _talk(self, what: str, work: Callable[[ClientSession], Awaitable[T]]) -> T:
        talk = asyncio.wait_for(self._session(work), LABGRID_TIMEOUT)
        with _one_at_a_time:
            done = asyncio.run_coroutine_threadsafe(talk, _labgrid_loop())
            try:
                return done.result(LABGRID_TIMEOUT + 10)  # the loop's own bound comes first
            except TimeoutError:
                done.cancel()
            raise InfrastructureError(f"{what} labgrid place {self.place}: coordinator {self.coordinator} "
                                      f"did not answer within {LABGRID_TIMEOUT:.0f} s") from None

    async def _session(self, work: Callable[[ClientSession], Awaitable[T]]) -> T:
        try:
            from labgrid.remote.client import ClientSession, Error
            from labgrid.util.proxy import proxymanager
        except ImportError:
            raise InfrastructureError("labgrid is not installed (pip install 'utvm[lab]')") from None
        try:
            address = proxymanager.get_grpc_address(self.coordinator, default_port=20408)
        except Exception as exc:  # labgrid's ProxyError, SSH failures
            raise InfrastructureError(f"labgrid coordinator address {self.coordinator!r}: {exc}") from exc
        session = ClientSession(address, asyncio.get_running_loop())
        try:
            try:
                await session.start()
            except Error:
                raise InfrastructureError(f"labgrid coordinator {self.coordinator} is unreachable "
                                          f"(place {self.place})") from None
            return await work(session)
        finally:
            with contextlib.suppress(Exception):  # a session that never connected closes quickly anyway
                await asyncio.wait_for(_close(session), 5)

    def _find(self, session: ClientSession) -> Place:
        from labgrid.remote.client import Error

        try:
            return session.get_place(self.place)
        except Error as exc:
            raise InfrastructureError(f"labgrid place {self.place} on coordinator {self.coordinator}: "
                                      f"{_text(exc)}") from None

    async def _acquire(self, session: ClientSession) -> dict[tuple[str, str], ResourceEntry]:
        import grpc
        from labgrid.remote.client import Error
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        place = self._find(session)
        if place.acquired:  # whoever it is (a developer may run as the runner's user), it stays theirs
            raise InfrastructureError(f"labgrid place {place.name} is already acquired by {place.acquired} "
                                      "(their `labgrid-client acquire` or test run); it stays theirs")
        try:
            session.check_matches(place)
        except Error as exc:
            raise InfrastructureError(f"labgrid place {place.name}: {_text(exc)} "
                                      "(is its exporter running?)") from None
        self.acquired = True  # from here on, even a lost answer may have left the place ours
        try:
            await session.stub.AcquirePlace(pb.AcquirePlaceRequest(placename=place.name))
        except grpc.aio.AioRpcError as exc:
            raise InfrastructureError(f"the labgrid coordinator refused to acquire place {place.name}: "
                                      f"{exc.details()}") from None
        if not await session.sync_with_coordinator():
            raise InfrastructureError(f"lost the labgrid coordinator {self.coordinator} "
                                      f"after acquiring place {place.name}")
        try:
            return session.get_target_resources(place)
        except Error as exc:  # not ours after all, or an exporter went away
            raise InfrastructureError(f"labgrid place {place.name}: {_text(exc)}") from None

    async def _release(self, session: ClientSession) -> None:
        import grpc
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        place = self._find(session)
        us = f"{session.gethostname()}/{session.getuser()}"
        try:  # fromuser: the coordinator leaves a place someone else holds (we were kicked) to them
            await session.stub.ReleasePlace(pb.ReleasePlaceRequest(placename=place.name, fromuser=us))
        except grpc.aio.AioRpcError as exc:
            raise InfrastructureError(f"releasing labgrid place {place.name} failed: {exc.details()}") \
                from None
        await session.sync_with_coordinator()


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
# One conversation at a time: two labgrid ClientSessions alive at once in a process
# share one gRPC connection, and the coordinator, which knows a client by its peer
# address, mixes them up (the second one's stream is refused).
_one_at_a_time = threading.Lock()


def _labgrid_loop() -> asyncio.AbstractEventLoop:
    """The one event loop, on its own thread, that every coordinator conversation runs on.

    gRPC's asyncio support fails ("Internal error from Core") when loops on several
    threads talk at once, and the runner acquires its boards from worker threads.
    """
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="labgrid", daemon=True).start()
        return _loop


async def _close(session: ClientSession) -> None:
    await session.stop()
    await session.close()


def _text(exc: BaseException) -> str:
    return " ".join(str(a) for a in exc.args)


def serial_url(place: str, resources: dict[tuple[str, str], ResourceEntry]) -> str:
    """What pyserial opens for the first (by name) NetworkSerialPort an acquired place holds."""
    from labgrid import Target, target_factory
    from labgrid.util.proxy import proxymanager

    ports = sorted(((name, entry) for (name, cls), entry in resources.items() if cls == "NetworkSerialPort"),
                   key=lambda p: p[0])
    if not ports:
        held = ", ".join(sorted(f"{cls} {name}" for name, cls in resources)) or "nothing"
        raise InfrastructureError(f"labgrid place {place} has no NetworkSerialPort resource "
                                  f"(it holds {held})")
    name, entry = ports[0]
    if not entry.avail:
        raise InfrastructureError(f"the serial port {name} of labgrid place {place} is not available on its "
                                  "exporter (device unplugged, or its ser2net not running?)")
    with Target(place) as target:
        try:
            port: Any = target_factory.make_resource(target, "NetworkSerialPort", name, entry.args)
            port.extra = entry.extra  # as RemotePlace does: an isolated exporter needs an SSH forward
            host, tcp = proxymanager.get_host_and_port(port)
        except Exception as exc:  # InvalidConfigError, labgrid's ExecutionError (SSH)
            raise InfrastructureError(f"the serial port {name} of labgrid place {place}: {exc}") from exc
    host = f"[{host}]" if ":" in host else host
    if port.protocol == "rfc2217":
        return f"rfc2217://{host}:{tcp}?ign_set_control"  # as labgrid's SerialDriver opens it (ser2net, ptys)
    if port.protocol == "raw":
        return f"socket://{host}:{tcp}"
    raise InfrastructureError(f"the serial port {name} of labgrid place {place} speaks {port.protocol!r}, "
                              "neither rfc2217 nor raw")


ACCESS: dict[str, Callable[[Board], Access]] = {"serial": SerialAccess, "labgrid": LabgridAccess}


def access_for(board: Board) -> Access:
    return ACCESS["labgrid" if board.labgrid_place else "serial"](board)
