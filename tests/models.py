"""Small models built in code (no downloads) for the model tests: each builder returns
the Relax module and a seeded example input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _function(name: str, inputs: list[tuple[str, tuple[int, ...], str]], body: Callable[..., Any]) -> Any:
    from tvm import relax

    bb = relax.BlockBuilder()
    params = [relax.Var(n, relax.TensorType(shape, dtype)) for n, shape, dtype in inputs]
    with bb.function(name, params):
        with bb.dataflow():
            out = bb.emit_output(body(bb, *params))
        bb.emit_func_output(out)
    return bb.get()


def _const(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "float32",
           scale: float = 0.5) -> Any:
    from tvm import relax

    if np.dtype(dtype).kind == "i":
        return relax.const(rng.integers(-20, 20, size=shape).astype(dtype))
    return relax.const((rng.standard_normal(shape) * scale).astype(dtype))


def mlp() -> tuple[Any, list[np.ndarray]]:
    from tvm.relax import op as R

    rng = np.random.default_rng(1)

    def body(bb: Any, x: Any) -> Any:
        h = bb.emit(R.nn.relu(R.add(R.matmul(x, _const(rng, (16, 32))), _const(rng, (32,)))))
        h = bb.emit(R.nn.relu(R.add(R.matmul(h, _const(rng, (32, 32))), _const(rng, (32,)))))
        return bb.emit(R.nn.softmax(R.add(R.matmul(h, _const(rng, (32, 4))), _const(rng, (4,)))))

    x = rng.standard_normal((1, 16)).astype("float32")
    return _function("main", [("x", (1, 16), "float32")], body), [x]


def cnn() -> tuple[Any, list[np.ndarray]]:
    from tvm.relax import op as R

    rng = np.random.default_rng(2)

    def body(bb: Any, x: Any) -> Any:
        y = bb.emit(R.nn.relu(R.nn.conv2d(x, _const(rng, (4, 1, 3, 3)), padding=1)))
        y = bb.emit(R.nn.max_pool2d(y, pool_size=2, strides=2))
        y = bb.emit(R.reshape(y, (1, 64)))
        y = bb.emit(R.add(R.matmul(y, _const(rng, (64, 10))), _const(rng, (10,))))
        return bb.emit(R.nn.softmax(y))

    image = rng.standard_normal((1, 1, 8, 8)).astype("float32")
    return _function("main", [("image", (1, 1, 8, 8), "float32")], body), [image]


def two_outputs() -> tuple[Any, list[np.ndarray]]:
    from tvm import relax
    from tvm.relax import op as R

    rng = np.random.default_rng(3)

    def body(bb: Any, x: Any, y: Any) -> Any:
        h = bb.emit(R.nn.relu(R.matmul(x, _const(rng, (8, 8)))))
        s = bb.emit(R.add(h, y))
        return bb.emit(relax.Tuple([bb.emit(R.nn.softmax(s)), bb.emit(R.multiply(h, s))]))

    inputs = [rng.standard_normal((2, 8)).astype("float32"), rng.standard_normal((2, 8)).astype("float32")]
    return _function("main", [("x", (2, 8), "float32"), ("y", (2, 8), "float32")], body), inputs


def int8_dense() -> tuple[Any, list[np.ndarray]]:
    from tvm.relax import op as R

    rng = np.random.default_rng(4)

    def body(bb: Any, x: Any) -> Any:
        acc = bb.emit(R.matmul(R.astype(x, "int32"), R.astype(_const(rng, (16, 8), "int8"), "int32")))
        acc = bb.emit(R.add(acc, _const(rng, (8,), "int32")))
        return bb.emit(R.astype(R.clip(R.right_shift(acc, relax_int(4)), -128, 127), "int8"))

    x = rng.integers(-100, 100, size=(1, 16)).astype("int8")
    return _function("main", [("x", (1, 16), "int8")], body), [x]


def relax_int(v: int) -> Any:
    from tvm import relax

    return relax.const(np.int32(v))


MODELS: dict[str, Callable[[], tuple[Any, list[np.ndarray]]]] = {
    "mlp": mlp, "cnn": cnn, "two_outputs": two_outputs, "int8": int8_dense,
}
