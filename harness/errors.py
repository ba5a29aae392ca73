"""Error taxonomy.

As LAVA has it: InfrastructureError covers faults of the machinery (a missing
tool, boot, flash, transport, device reset): a runner may retry those. Everything
else is a result. A BuildError is the change's own fault (its code does not
compile or link): a failure, never retried. A RemoteError is the device
answering "no", with its message.
"""

from __future__ import annotations


class UtvmError(Exception):
    """Base of every error the harness raises."""


class InfrastructureError(UtvmError):
    """Build, boot, flash or transport fault; retrying may help."""


class BuildError(UtvmError):
    """The inputs do not compile or link: the change's fault, not the machinery's."""


class ToolchainError(InfrastructureError):
    """A compiler or tool the build needs is missing or cannot run."""


class TransportError(InfrastructureError):
    """The byte pipe to the device failed."""


class TransportClosed(TransportError):
    """The device closed the pipe or its process exited."""


class TransportTimeout(TransportError):
    """No answer within the allowed time."""


class LinkCorrupted(TransportError):
    """A frame from the device failed its check during a session: a reply may be lost."""


class DeviceResetError(TransportError):
    """The device rebooted or ended the session; reopen the session."""


class HandshakeError(TransportError):
    """The session handshake did not complete."""


class UsageError(UtvmError):
    """A command's flags name something that does not exist or a value it cannot take (exit code 2)."""


class ModelError(UtvmError):
    """The model cannot be compiled for a device; the message says why."""


class ProtocolError(UtvmError):
    """The device sent bytes that violate the RPC protocol."""


class FunctionNotFound(UtvmError, LookupError):
    """The device has no function of that name."""


class RemoteError(UtvmError):
    """The device raised an error; `kind` is its error kind (e.g. 'ValueError')."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class RemoteValueError(RemoteError, ValueError):
    pass


class RemoteTypeError(RemoteError, TypeError):
    pass


class RemoteMemoryError(RemoteError, MemoryError):
    pass


class RemoteAttributeError(RemoteError, AttributeError):
    pass


_REMOTE_KINDS: dict[str, type[RemoteError]] = {
    "ValueError": RemoteValueError,
    "TypeError": RemoteTypeError,
    "MemoryError": RemoteMemoryError,
    "AttributeError": RemoteAttributeError,
}


def last_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's last non-empty line, where TVM and compilers say what went wrong (its type's name
    when it has none): the one line a user is shown instead of a traceback."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:limit]


def remote_error(text: str) -> RemoteError:
    """Build the right RemoteError subclass from a device message 'Kind: message'."""
    kind, sep, message = text.partition(": ")
    if not sep or not kind.isidentifier():
        kind, message = "RuntimeError", text
    return _REMOTE_KINDS.get(kind, RemoteError)(kind, message)
