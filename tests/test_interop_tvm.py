"""Interop with apache-tvm 0.27: its C codegen built into the image and driven by TVM's
own RPC client (tvm.rpc.PopenSession) through the image's rpc_launcher. (The harness
client's side of the same kernels is in acceptance_tests/test_kernels.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acceptance_tests.kernels import tvm_kernels
from acceptance_tests.kernels.tvm_kernels import N
from harness.build import Manifest
from tests.conftest import KERNELS, QEMU_TARGETS, REPO_ROOT, build_image, require_tvm


@pytest.fixture(scope="module")
def tvm_source() -> Path:
    require_tvm()
    return tvm_kernels.generate(REPO_ROOT / "build" / "utvm-cache" / "tvm_kernels.c")


@pytest.fixture(params=["host", *QEMU_TARGETS])
def tvm_image(request: pytest.FixtureRequest, tvm_source: Path) -> Manifest:
    return build_image(request.param, [tvm_source, KERNELS / "handwritten.c"])


def test_tvm_kernels_registered(tvm_image: Manifest) -> None:
    assert {"vadd", "reverse_affine", "scale"} <= set(tvm_image.functions)
    assert not any(f.startswith("_") for f in tvm_image.functions)


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
