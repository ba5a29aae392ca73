"""`utvm tune-worker` lets no one in: it serves on loopback unless told otherwise (and then says what
it exposes), and it refuses, in one line and before building anything, a payload whose C reaches for
a host file (however the include is spelled), whose files climb out of its directory, or that is too
big. What it does accept is built and run in the toolchain container (test_tune's tracker test)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.tune.payload import MAX_PAYLOAD_BYTES, PayloadRefused, check_artifacts, unpack
from harness.tune.remote import FUNCTION, measure_payload
from tests.conftest import require_tvm

KERNEL = b"""#define TVM_EXPORTS
#include "tvm/ffi/c_api.h"
#include <math.h>
#include <stdbool.h>
/* #include "/etc/passwd" in a comment is only a comment */
static const char* note = "#include \\"/etc/passwd\\" in a string is only a string";
int32_t __tvm_ffi_cand0_abc(void* self, void* args, int32_t n, void* result) { return (int32_t)sqrt(4.0); }
"""
ARTS = json.dumps([{"manifest": "m", "kernel": "cand0_abc", "ref": "ref_abc", "args": "args_abc.npz",
                    "task": "abc"}])


def tar(*members: tuple[str, bytes] | tarfile.TarInfo, mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                t.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                t.addfile(info, io.BytesIO(m[1]))
    return buf.getvalue()


def kernel(line: bytes) -> bytes:
    return tar(("cand0_abc.c", KERNEL.replace(b"#include <math.h>", line)))


def symlink(name: str, to: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, to
    return info


HOSTILE = {
    "an absolute include": (kernel(b'#include "/etc/passwd"'), "includes '/etc/passwd'"),
    "an include that climbs out": (kernel(b'#include "../../../../etc/passwd"'), "includes '../../../../etc"),
    "a host header": (kernel(b"#include <stdio.h>"), "includes 'stdio.h'"),
    "an include through a macro": (kernel(b'#define F "/etc/hostname"\n#include F'), "not a plain"),
    "#include_next": (kernel(b"#include_next <math.h>"), "#include_next is not allowed"),
    "#embed": (kernel(b'#embed "/etc/passwd"'), "#embed is not allowed"),
    "a spliced include": (kernel(b'#inc\\\nlude "/etc/passwd"'), "includes '/etc/passwd'"),
    "a commented directive": (kernel(b'#/**/include </etc/passwd>'), "includes '/etc/passwd'"),
    "a digraph include": (kernel(b'%:include "/etc/passwd"'), "includes '/etc/passwd'"),
    "a trigraph include": (kernel(b'??=include "/etc/passwd"'), "trigraphs"),
    "a splice with blanks": (kernel(b'#inc\\  \nlude "/etc/passwd"'), "includes '/etc/passwd'"),
    "a lone CR ending the line": (kernel(b'int x;\r#include "/etc/passwd"'), "includes '/etc/passwd'"),
    "a byte-order mark": (tar(("cand0_abc.c", b"\xef\xbb\xbf" + KERNEL)), "is not ASCII text"),
    "asm spelled by pasting": (
        kernel(b'#define CAT(a, b) a##b\nCAT(__as, m__)(".inc" "bin \\"/etc/passwd\\"");'), "pastes tokens"),
    "a spliced asm": (kernel(b'__a\\\nsm__(".text");'), "uses __asm__"),
    "a digraph paste": (kernel(b'#define CAT(a, b) a %:%: b'), "pastes tokens"),
    "__has_include": (kernel(b'#if __has_include("/etc/passwd")\n#endif'), "uses __has_include"),
    "_Pragma": (kernel(b'_Pragma("GCC dependency \\"/etc/passwd\\"")'), "uses _Pragma"),
    "asm .incbin": (kernel(b'__asm__(".section .rodata\\n.incbin \\"/etc/passwd\\"");'), ".incbin"),
    "asm": (kernel(b'asm("nop");'), "uses asm"),
    "a file that climbs out": (tar(("../cand0_abc.c", KERNEL)), "'../cand0_abc.c' is not a kernel's C file"),
    "a symlink": (tar(symlink("cand0_abc.c", "/etc/passwd")), "'cand0_abc.c' is not a kernel's C file"),
    "a file of another kind": (tar(("cand0_abc.c", KERNEL), ("Makefile", b"all:\n")), "'Makefile' is not"),
    "a compressed archive": (tar(("cand0_abc.c", KERNEL), mode="w:gz"), "not an uncompressed tar"),
    "a huge archive": (b"\0" * (MAX_PAYLOAD_BYTES + 1), "over the 67108864 byte limit"),
}


def test_a_kernel_as_tvm_writes_it_is_accepted() -> None:
    assert list(unpack(tar(("cand0_abc.c", KERNEL))).files) == ["cand0_abc.c"]


def test_a_task_key_may_start_with_a_digit_but_names_stay_symbols() -> None:
    """Task keys are hex hashes of workloads ("067814a3d808"): accepted; kernel and reference names are
    C symbols, and a task key with anything but letters and digits is refused."""
    npz = io.BytesIO()
    np.savez(npz, np.zeros(2, np.int8))
    payload = unpack(tar(("cand0_067814a3d808.c", KERNEL), ("args_067814a3d808.npz", npz.getvalue())))
    art = {"manifest": "m", "kernel": "cand0_067814a3d808", "ref": "ref_067814a3d808",
           "args": "args_067814a3d808.npz", "task": "067814a3d808"}
    assert check_artifacts(json.dumps([art]), payload) == [art]
    for bad in ({"task": "../x"}, {"task": ""}, {"kernel": "0cand"}, {"ref": "ref-x"}):
        with pytest.raises(PayloadRefused, match="does not name its kernel, reference and task"):
            check_artifacts(json.dumps([{**art, **bad}]), payload)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_payload_is_refused_in_one_line_and_nothing_is_built(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload, message = HOSTILE[case]
    monkeypatch.setenv("UTVM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(PayloadRefused) as caught:
        measure_payload("host", "host", payload, ARTS)
    text = str(caught.value)
    assert "\n" not in text and message in text, text
    assert not (tmp_path / "cache").exists()  # nothing written, built or measured


# The farm on this machine: TVM's tracker and a worker, each on loopback.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _outside_address() -> Iterator[str]:
    """An IPv4 address of this machine that is not loopback (a dummy interface's, made for the test,
    when the machine has none)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    found = [a for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out) if not a.startswith("127.")]
    if found:
        yield found[0]
        return
    made = [["ip", "link", "add", "utvmtest0", "type", "dummy"], ["ip", "addr", "add", "10.213.7.1/32", "dev",
            "utvmtest0"], ["ip", "link", "set", "utvmtest0", "up"]]
    if any(subprocess.run(c, capture_output=True).returncode for c in made):
        pytest.skip("no non-loopback address here, and no dummy interface can be made")
    try:
        yield "10.213.7.1"
    finally:
        subprocess.run(["ip", "link", "del", "utvmtest0"], capture_output=True)


@pytest.fixture
def outside_address() -> Iterator[str]:
    yield from _outside_address()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def _worker(tracker_port: int, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "tune-worker", "--tracker",
                             f"127.0.0.1:{tracker_port}", "--key", "utvm-sec", "--target", "host",
                             "--port", str(_free_port()), *extra],
                            stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        m = re.search(r"serving key .* on port (\d+)", log.read_text())
        if m:
            return proc, int(m.group(1))
        assert proc.poll() is None, log.read_text()
        time.sleep(0.3)
    raise AssertionError(f"the worker did not start: {log.read_text()}")


def test_a_default_worker_serves_loopback_only_and_refuses_a_hostile_payload(tmp_path: Path,
                                                                              outside_address: str) -> None:
    """A worker with the default --host answers on 127.0.0.1 and not on the machine's other address;
    one given --host 0.0.0.0 is reachable there and says what that exposes. Through the tracker, a
    payload that includes a host file is refused in one line and measures nothing."""
    require_tvm()
    import tvm.rpc

    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                               "--port", str(port), "--port-end", str(port + 1)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        time.sleep(2)
        default, default_port = _worker(port, tmp_path / "default.log")
        procs.append(default)
        assert _reachable("127.0.0.1", default_port)
        assert not _reachable(outside_address, default_port), f"reachable on {outside_address}"
        assert "warning" not in (tmp_path / "default.log").read_text()

        time.sleep(3)  # registered with the tracker
        session = tvm.rpc.connect_tracker("127.0.0.1", port).request("utvm-sec", session_timeout=120)
        with pytest.raises(Exception) as caught:
            session.get_function(FUNCTION)("host", bytearray(HOSTILE["an absolute include"][0]), ARTS)
        assert "includes '/etc/passwd'" in str(caught.value)
        log = (tmp_path / "default.log").read_text()
        refused = "utvm tune-worker: refused a payload: payload file cand0_abc.c includes '/etc/passwd'"
        assert refused in log, log
        assert "measured" not in log

        opened, opened_port = _worker(port, tmp_path / "opened.log", "--host", "0.0.0.0", "--no-sandbox")
        procs.append(opened)
        assert _reachable(outside_address, opened_port)
        log = (tmp_path / "opened.log").read_text()
        assert "warning: serving on 0.0.0.0, not loopback: anyone who reaches this address" in log, log
        assert "warning: --no-sandbox" in log
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_the_sandbox_has_no_network_and_sees_only_its_mounts(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam the worker builds through: a command in the toolchain container sees the payload's
    directory and the runtime's sources (read-only), not the rest of the machine, and no network."""
    from harness import resources
    from harness.tune import sandbox

    monkeypatch.setenv("UTVM_CACHE", str(tmp_path / "cache"))
    payload_dir, secret = tmp_path / "payload", tmp_path / "secret.txt"
    payload_dir.mkdir()
    (payload_dir / "cand0_abc.c").write_bytes(KERNEL)
    secret.write_text("not for the payload\n")
    with sandbox.Sandbox(sandbox.image(), payload_dir) as box:
        assert box.run(["ls", "/sys/class/net"]).stdout.split() == ["lo"]
        assert box.run(["cat", str(payload_dir / "cand0_abc.c")]).stdout.encode() == KERNEL
        assert box.run(["cat", str(secret)]).returncode != 0
        assert box.run(["touch", str(resources.crt() / "x")]).returncode != 0  # the runtime is read-only
        assert box.run(["touch", "/etc/x"]).returncode != 0  # and so is the image
        assert box.run(["touch", str(payload_dir / "cand0_abc.o")]).returncode == 0


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an386"])
def test_a_payload_is_built_and_measured_in_the_container(target: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A real payload (a conv's default schedule as candidate and reference, and its arguments), as a
    tuner sends it: built in the toolchain container, run there (the host executable, or QEMU)."""
    require_tvm()
    import numpy as np

    from harness.tune.builder import KERNELS_HEADER, emit_c, reference_kernel
    from harness.tune.remote import pack
    from harness.tune.tasks import extract
    from tests.test_tune import conv_model

    monkeypatch.setenv("UTVM_CACHE", str(tmp_path / "cache"))
    (task,) = [t for t in extract(conv_model(tmp_path)) if t.op == "conv2d"]
    src, key = tmp_path / "src", task.key
    src.mkdir()
    for name in (f"ref_{key}", f"cand0_{key}"):
        (src / f"{name}.c").write_text(KERNELS_HEADER + emit_c({name: reference_kernel(task)}))
    np.savez(src / f"args_{key}.npz", *task.args)
    arts = [{"manifest": "", "kernel": f"cand0_{key}", "ref": f"ref_{key}", "args": f"args_{key}.npz",
             "task": key}]
    (result,) = json.loads(measure_payload(target, target, pack(src), json.dumps(arts)))
    assert result["error"] is None and result["seconds"] > 0 and not result["rejected"], result
