"""Let-bound scalars of a TE-made PrimFunc turned into one-element local buffers.

The fixed-point expressions (fixedpoint.py) bind shared operands with Let so that no operand
is copied. TVM 0.27's TIR passes (CompactBufferAllocation, FlattenBuffer, StmtSimplify,
HoistIfThenElse, ...) are exponential in the depth of such bindings, Let expressions and
Bind statements alike: a softmax never finishes compiling. Stores to and loads from
one-element buffers they treat as opaque, in linear time. So every block whose stored value
holds a Let becomes: one store per binding, in evaluation order, then the final store; the
buffers are allocated by the block, and the C compiler keeps them in registers.

A Let inside one arm of a Select is evaluated unconditionally afterwards; that is safe
because every bound expression here is pure and total (no loads, no division).
"""

from __future__ import annotations

from typing import Any

from harness.models.int8.fixedpoint import dtype_of

_BINARY = {
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "FloorDiv",
    "FloorMod",
    "Min",
    "Max",
    "EQ",
    "NE",
    "LT",
    "LE",
    "GT",
    "GE",
    "And",
    "Or",
    "LShift",
    "RShift",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
}
_LEAVES = {"IntImm", "FloatImm", "StringImm", "TensorLoad", "BufferLoad"}


class _Hoister:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.env: dict[Any, Any] = {}
        self.stores: list[Any] = []
        self.buffers: list[Any] = []

    def visit(self, e: Any) -> Any:
        from tvm import tirx

        kind = type(e).__name__
        if kind in _LEAVES:
            return e
        if kind == "Var":
            return self.env.get(e, e)
        if kind == "Let":
            value = self.visit(e.value)
            buf = tirx.decl_buffer((1,), dtype_of(value), name=f"{self.prefix}_{e.var.name}")
            self.buffers.append(buf)
            self.stores.append(tirx.BufferStore(buf, value, [0]))
            self.env[e.var] = buf[0]
            return self.visit(e.body)
        if kind in _BINARY:
            return type(e)(self.visit(e.a), self.visit(e.b))
        if kind == "Select":
            return tirx.Select(self.visit(e.condition), self.visit(e.true_value), self.visit(e.false_value))
        if kind == "Cast":
            return tirx.Cast(dtype_of(e), self.visit(e.value))
        if kind == "Not":
            return tirx.Not(self.visit(e.a))
        return e  # calls (if_then_else of padding) and the like: fixedpoint.py puts no Let under them


def materialize_lets(func: Any) -> Any:
    """func with every Let in a block's stored value moved into one-element block buffers."""
    import tvm
    from tvm import s_tir, tirx

    sch = s_tir.Schedule(func)
    for rv in sch.get_child_blocks(sch.get_sblock("root")):
        block = sch.get(rv)
        body = block.body
        if type(body).__name__ != "BufferStore":
            continue
        h = _Hoister(block.name_hint)
        value = h.visit(body.value)
        if not h.stores:
            continue
        new_body = tirx.SeqStmt([*h.stores, tirx.BufferStore(body.buffer, value, body.indices)])
        new_block = s_tir.SBlock(
            block.iter_vars,
            block.reads,
            block.writes,
            block.name_hint,
            new_body,
            block.init,
            [*block.alloc_buffers, *h.buffers],
            block.match_buffers,
            block.annotations,
        )
        sch.state.replace(sch.get_sref(rv), new_block, {block: new_block})
    mod = sch.mod
    return mod["main"] if isinstance(mod, tvm.IRModule) else mod
