"""Measurement farms through TVM's RPC tracker (`python -m tvm.exec.rpc_tracker`).

A lab machine runs `utvm tune-worker --tracker HOST:PORT --key KEY --target T`: a TVM RPC server that
registers with the tracker under KEY and serves one function, utvm.tune.measure. It is sent an
image's sources (the candidates' C and each task's arguments), builds them for its target (cached
by content), runs them on its own device, and answers each candidate's result. The tuner holds one
TrackerSlot per device it wants: each measurement asks the tracker for a free worker, as TVM's own
RPC runner does.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import sys
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness import resources
from harness.build import Manifest, build
from harness.errors import InfrastructureError, UtvmError, last_line
from harness.targets import get_target
from harness.tune.builder import Artifact
from harness.tune.runner import DeviceSlot, Measured, local_device

FUNCTION = "utvm.tune.measure"


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UtvmError(f"--tracker {text!r}: expected HOST:PORT")
    return host, int(port)


def pack(image_dir: Path) -> bytes:
    """The image's sources: candidates' and references' C, and the tasks' arguments."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted([*image_dir.glob("*.c"), *image_dir.glob("*.npz")]):
            tar.add(f, arcname=f.name)
    return buf.getvalue()


def measure_payload(target: str, wanted: str, payload: bytes, arts_json: str) -> str:
    """On the worker: build what was sent for our target, measure it on our device, answer JSON. A
    tuner measuring for another target (a worker registered under the wrong key) is refused."""
    if wanted != target:
        raise UtvmError(f"this tune-worker measures {target}, not {wanted}: check the tracker key")
    arts = [Artifact(**a) for a in json.loads(arts_json)]
    where = resources.cache_dir() / "tune-worker" / target / hashlib.sha256(payload).hexdigest()[:20]
    where.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        tar.extractall(where, filter="data")
    manifest = build(get_target(target), where / "image", sorted(where.glob("*.c")))
    local = [Artifact(str(where / "image" / "manifest.json"), a.kernel, a.ref, str(where / Path(a.args).name),
                      a.task) for a in arts]
    slot = DeviceSlot("worker", local_device)
    results = slot.run(str(where / "image" / "manifest.json"), local, where / "devices")
    print(f"utvm tune-worker: measured {len(results)} candidates of {manifest.target.name} image "
          f"{where.name}", file=sys.stderr, flush=True)
    return json.dumps([asdict(r) for r in results])


def _register(target: str) -> None:
    """In the RPC server's process: the one function the tuner calls."""
    import tvm

    def measure(wanted: str, payload: Any, arts_json: str) -> str:
        return measure_payload(target, str(wanted), bytes(payload), str(arts_json))

    tvm.register_global_func(FUNCTION, measure, override=True)


def serve(tracker: str, key: str, target: str, host: str = "0.0.0.0", port: int = 9190) -> Any:
    """Start a worker (returns the tvm.rpc.Server; it runs until terminated)."""
    import tvm.rpc

    get_target(target)
    return tvm.rpc.Server(host=host, port=port, port_end=port + 100, tracker_addr=parse_address(tracker),
                          key=key, server_init_callback=functools.partial(_register, target))


class TrackerSlot(DeviceSlot):
    """A device behind the tracker: each image goes to whichever worker the tracker hands out."""

    def __init__(self, name: str, tracker: str, key: str, timeout: float = 600.0) -> None:
        super().__init__(name, local_device)
        self.tracker, self.key, self.timeout = parse_address(tracker), key, timeout

    def run(self, manifest_path: str, arts: list[Artifact], workdir: Path) -> list[Measured]:
        import tvm.rpc

        image_dir = Path(manifest_path).parent.parent
        target = Manifest.load(Path(manifest_path)).target.name
        try:
            session = tvm.rpc.connect_tracker(*self.tracker).request(self.key, session_timeout=self.timeout)
            measure = session.get_function(FUNCTION)
            answer = measure(target, pack(image_dir), json.dumps([asdict(a) for a in arts]))
        except Exception as exc:  # the farm, not the candidate: every candidate of the image says so
            host, port = self.tracker
            why = f"tune worker via tracker {host}:{port} key {self.key}: {last_line(exc)}"
            return [Measured(error=why[:300]) for _ in arts]
        self.images += 1
        return [Measured(**m) for m in json.loads(str(answer))]


def tracker_slots(tracker: str, key: str, devices: int) -> list[DeviceSlot]:
    """`devices` slots, or as many as the tracker has workers under the key."""
    import tvm.rpc

    if devices <= 0:
        try:
            summary = tvm.rpc.connect_tracker(*parse_address(tracker)).summary()
        except Exception as exc:
            raise InfrastructureError(f"cannot reach the RPC tracker {tracker}: {exc}") from None
        servers = summary.get("server_info", [])
        devices = sum(1 for s in servers if str(s.get("key", "")).split(":")[-1] == key)
        if devices == 0:
            raise InfrastructureError(f"the RPC tracker {tracker} has no worker with key {key!r}")
    return [TrackerSlot(f"tracker{i}", tracker, key) for i in range(devices)]
