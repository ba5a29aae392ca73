"""Interop with apache-tvm 0.27: its C codegen built into the image, driven by the
harness client and by TVM's own RPC client (tvm.rpc.PopenSession)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from harness.build import Manifest
from harness.device import Device
from tests.conftest import KERNELS, QEMU_TARGETS, build_image, require_tvm

N = 4096


def generate_kernels(out: Path) -> Path:
    tvm = require_tvm()
    from tvm import te

    a = te.placeholder((N,), "float32", name="A")
    b = te.placeholder((N,), "float32", name="B")
    add = te.compute((N,), lambda i: a[i] + b[i], name="C")
    tmp = te.compute((N,), lambda i: a[i] * 2.0, name="T")
    ws = te.compute((N,), lambda i: tmp[N - 1 - i] + 1.0, name="W")
    mod = tvm.IRModule({
        "vadd": te.create_prim_func([a, b, add]).with_attr("global_symbol", "vadd"),
        "reverse_affine": te.create_prim_func([a, ws]).with_attr("global_symbol", "reverse_affine"),
    })
    path = out / "tvm_kernels.c"
    path.write_text(tvm.build(mod, target="c").inspect_source())
    return path


@pytest.fixture(scope="module")
def tvm_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = generate_kernels(tmp_path_factory.mktemp("tvmgen"))
    stable = KERNELS.parent.parent / "build" / "tvm-kernels.c"
    stable.parent.mkdir(exist_ok=True)
    with FileLock(str(stable) + ".lock"):  # xdist workers share it
        if not stable.exists() or stable.read_text() != src.read_text():
            stable.write_text(src.read_text())
    return stable


@pytest.fixture(params=["host", *QEMU_TARGETS])
def tvm_image(request: pytest.FixtureRequest, tvm_source: Path) -> Manifest:
    return build_image(request.param, [tvm_source, KERNELS / "handwritten.c"])


def test_tvm_kernels_registered(tvm_image: Manifest) -> None:
    assert {"vadd", "reverse_affine", "scale"} <= set(tvm_image.functions)
    assert not any(f.startswith("_") for f in tvm_image.functions)


def test_tvm_kernels_through_harness_client(tvm_image: Manifest, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(N, dtype=np.float32), rng.standard_normal(N, dtype=np.float32)
    with Device(tvm_image, workdir=tmp_path) as client:
        lib = client.system_lib()
        tx, ty, tz = client.tensor(x), client.tensor(y), client.empty((N,), "float32")
        lib["vadd"](tx, ty, tz)
        np.testing.assert_allclose(tz.numpy(), x + y, rtol=1e-6)
        lib["reverse_affine"](tx, tz)  # uses TVMBackendAllocWorkspace
        np.testing.assert_allclose(tz.numpy(), x[::-1] * 2 + 1, rtol=1e-6)
        with pytest.raises(Exception, match=r"Mismatched|Invalid"):
            lib["vadd"](tx, ty, client.empty((N // 2,), "float32"))
        times = lib.time_evaluator("vadd", number=5, repeat=3)(tx, ty, tz)
        assert len(times) == 3 and all(t > 0 for t in times)


def test_tvm_popen_session(tvm_image: Manifest) -> None:
    tvm = require_tvm()
    sess = tvm.rpc.PopenSession(tvm_image.rpc_launcher)
    dev = sess.cpu(0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(N, dtype=np.float32), rng.standard_normal(N, dtype=np.float32)
    a, b = tvm.runtime.tensor(x, dev), tvm.runtime.tensor(y, dev)
    c = tvm.runtime.tensor(np.zeros(N, dtype=np.float32), dev)
    lib = sess.system_lib()
    lib["vadd"](a, b, c)
    np.testing.assert_allclose(c.numpy(), x + y, rtol=1e-6)
    lib["reverse_affine"](a, c)
    np.testing.assert_allclose(c.numpy(), x[::-1] * 2 + 1, rtol=1e-6)
    max_packet = sess.get_function("tvm.rpc.server.GetCRTMaxPacketSize")()
    big = rng.standard_normal(max_packet).astype(np.float32)  # 4x the max packet size: chunked
    np.testing.assert_array_equal(tvm.runtime.tensor(big, dev).numpy(), big)
    result = lib.time_evaluator("vadd", dev, number=20, repeat=3)(a, b, c)
    assert len(result.results) == 3 and result.mean > 0
    with pytest.raises(Exception, match="Expected 3 arguments"):
        lib["vadd"](a, b)
    assert sess.get_function("utvm.testing.echo")("ok") == "ok"
