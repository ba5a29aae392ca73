"""Measurement farms through TVM's RPC tracker (`python -m tvm.exec.rpc_tracker`).

A lab machine runs `utvm tune-worker --tracker HOST:PORT --key KEY --target T`: a TVM RPC server that
registers with the tracker under KEY and serves one function, utvm.tune.measure. It is sent an
image's sources (the candidates' C and each task's arguments), checks them (harness.tune.payload),
builds them for its target (cached by content) and runs them on its own device, both inside the
project's container image with no network (harness.tune.sandbox), and answers each candidate's
result. TVM's RPC server has no authentication, so the worker serves on loopback unless told
otherwise (a farm reaches it through SSH tunnels). The tuner holds one TrackerSlot per device it
wants: each measurement asks the tracker for a free worker, as TVM's own RPC runner does.
"""

from __future__ import annotations

import functools
import hashlib
import io
import ipaddress
import json
import sys
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness import resources
from harness.build import Manifest, build
from harness.device import Device
from harness.errors import InfrastructureError, UtvmError, last_line
from harness.targets import StartOptions, get_target
from harness.tune import sandbox
from harness.tune.builder import Artifact
from harness.tune.payload import PayloadRefused, check_artifacts, unpack
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


def measure_payload(target: str, wanted: str, payload: bytes, arts_json: str, sandboxed: bool = True) -> str:
    """On the worker: check what was sent (harness.tune.payload), build it for our target and measure
    it on our device, inside the toolchain container unless `sandboxed` is off (harness.tune.sandbox);
    answer JSON. A tuner measuring for another target (a worker registered under the wrong key) is
    refused, and so is a payload that reaches for anything beyond the runtime's headers."""
    if wanted != target:
        raise UtvmError(f"this tune-worker measures {target}, not {wanted}: check the tracker key")
    try:
        checked = unpack(payload)
        arts = check_artifacts(arts_json, checked)
    except PayloadRefused as exc:
        print(f"utvm tune-worker: refused a payload: {exc}", file=sys.stderr, flush=True)
        raise
    where = resources.cache_dir() / "tune-worker" / target / hashlib.sha256(payload).hexdigest()[:20]
    sources = checked.write(where)
    spec = get_target(target)
    if sandboxed:
        tag = sandbox.image()
        with sandbox.Sandbox(tag, where) as box:
            manifest = build(spec, where / "image", sources, runner=box.run,
                             objects_dir=sandbox.runtime_objects_dir())
        options = sandbox.start_options(spec, tag)
    else:
        manifest = build(spec, where / "image", sources)
        options = StartOptions()
    local = [Artifact(str(where / "image" / "manifest.json"), a["kernel"], a["ref"],
                      str(where / Path(a["args"]).name), a["task"],
                      str(where / Path(a["ref_args"]).name) if a.get("ref_args") else "") for a in arts]
    slot = DeviceSlot("worker", functools.partial(_device, options=options))
    results = slot.run(str(where / "image" / "manifest.json"), local, where / "devices")
    print(f"utvm tune-worker: measured {len(results)} candidates of {manifest.target.name} image "
          f"{where.name}", file=sys.stderr, flush=True)
    return json.dumps([asdict(r) for r in results])


def _device(manifest: Manifest, workdir: Path, options: StartOptions) -> Device:
    return Device(manifest, workdir=workdir, options=options)


def exposure_warning(host: str) -> str | None:
    """What serving on `host` opens, unless it is a loopback address."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host == "localhost":
            return None
    return (f"serving on {host}, not loopback: anyone who reaches this address can run TVM's RPC "
            "server's functions here (upload files, load modules: native code on this machine) and have "
            "C built and run in the sandbox; use an SSH tunnel or a closed lab network (README: Autotuning)")


def _register(target: str, sandboxed: bool) -> None:
    """In the RPC server's process: the one function the tuner calls."""
    import tvm

    def measure(wanted: str, payload: Any, arts_json: str) -> str:
        return measure_payload(target, str(wanted), bytes(payload), str(arts_json), sandboxed)

    tvm.register_global_func(FUNCTION, measure, override=True)


def serve(tracker: str, key: str, target: str, host: str = "127.0.0.1", port: int = 9190,
          sandboxed: bool = True) -> Any:
    """Start a worker (returns the tvm.rpc.Server; it runs until terminated). The toolchain image is
    made ready first, so the first measurement does not wait for it."""
    import tvm.rpc

    get_target(target)
    if sandboxed:
        sandbox.image()
    return tvm.rpc.Server(host=host, port=port, port_end=port + 100, tracker_addr=parse_address(tracker),
                          key=key, server_init_callback=functools.partial(_register, target, sandboxed))


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
        return _answers(str(answer), len(arts))


def _answers(text: str, count: int) -> list[Measured]:
    """A worker's answer, one Measured per candidate; an answer of another shape fails them all."""
    try:
        got = [Measured(**m) for m in json.loads(text)]
        numbers = all(isinstance(v, int | float | None) for m in got for v in (m.seconds, m.ref_seconds))
        if len(got) == count and numbers and all(isinstance(m.error, str | None) for m in got):
            return got
    except (ValueError, TypeError):
        pass
    why = f"the tune worker's answer is not {count} results: {text[:100]!r}"
    return [Measured(error=why) for _ in range(count)]


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
