"""Tuning's RAM budget (harness.models.compile.budget) and the memory plan's pool
(harness.models.compile.pool): a tuned model's activations + workspace stay within the budget (by
default the untuned model's), the kernels that would not fit fall back and say so, the predicted
workspace is what the device measures, and the plan shares the pool between inputs, activations and
outputs by lifetime, 0 LSB from TFLite Micro. Real compiles of the MLPerf Tiny models and real runs
under QEMU (ad01: small and quick)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from harness.device import Device
from harness.models.compile.budget import Budgeted, BudgetError, kernel_workspace, with_budget
from harness.models.compile.graph import Graph, Node, TensorInfo
from harness.models.compile.model import Compiled
from harness.models.compile.pool import Interval, place
from harness.models.deploy import reference as references
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image, compile_for
from harness.targets import get_target
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm

BOARD = "qemu-mps2-an386-semihosting"
ROOT = REPO_ROOT / "build" / "test-ram-budget"
X_CUBE_AI_VWW01_POOL = 58624  # bytes: X-CUBE-AI 9.0's activation pool for vww01 (issue 23)
_COMPILED: dict[tuple[str, str, int | None], Compiled] = {}


def compiled(name: str, target: str = BOARD, tuning: str | None = "auto",
             ram_budget: int | None = None) -> Compiled:
    require_tvm()
    key = (name, target, ram_budget if tuning else -1)
    if key not in _COMPILED:
        _COMPILED[key], _ = compile_for(mlperf_tiny_model(name), get_target(target),
                                        tuning=with_budget(tuning, ram_budget))
    return _COMPILED[key]


def _overlap(a: Interval, b: Interval, offsets: dict[int, int]) -> bool:
    live = not (a.last < b.first or b.last < a.first)
    return live and offsets[a.key] < offsets[b.key] + b.size and offsets[b.key] < offsets[a.key] + a.size


def test_pool_never_gives_two_live_buffers_the_same_bytes() -> None:
    rng = random.Random(23)
    for _ in range(200):
        buffers = []
        for key in range(rng.randint(1, 12)):
            first = rng.randint(0, 10)
            buffers.append(Interval(key, 64 * rng.randint(1, 20), first, first + rng.randint(0, 4)))
        offsets, top = place(buffers)
        assert top == max(offsets[b.key] + b.size for b in buffers)
        assert not any(_overlap(a, b, offsets) for a in buffers for b in buffers if a.key < b.key)


def _chain() -> Graph:
    """input -> a -> b -> output, 1 KB each: the input is dead once `a` is made."""
    tensors = [TensorInfo(i, f"t{i}", (1024,), "int8", kind)
               for i, kind in enumerate(("input", "activation", "activation", "output"))]
    return Graph(tensors, [Node("f0", [0, 1]), Node("f1", [1, 2]), Node("f2", [2, 3])], [0], [3]).plan()


def test_plan_reuses_the_input_once_read_and_keeps_the_output_to_the_end() -> None:
    g = _chain()
    assert g.arena_bytes == 2048, g.to_json()  # two live 1 KB tensors at any node: the input's bytes reused
    offsets = {t.id: t.offset for t in g.tensors}
    assert offsets[0] != offsets[1] and offsets[1] != offsets[2] and offsets[2] != offsets[3]
    assert offsets[2] == offsets[0]  # b takes the input's place once f0 has read it


def test_a_float_input_lives_all_the_run() -> None:
    """Software float takes a data-dependent time: runs repeated on one input must see that input."""
    tensors = [TensorInfo(i, f"t{i}", (256,), "float32", kind)
               for i, kind in enumerate(("input", "activation", "activation", "output"))]
    g = Graph(tensors, [Node("f0", [0, 1]), Node("f1", [1, 2]), Node("f2", [2, 3])], [0], [3]).plan()
    assert g.tensors[0].offset not in {t.offset for t in g.tensors[1:]} and g.arena_bytes == 3072


def test_an_input_that_is_also_an_output_lives_all_the_run() -> None:
    tensors = [TensorInfo(i, n, (1024,), "int8", kind)
               for i, (n, kind) in enumerate((("x", "input"), ("a", "activation"), ("y", "output")))]
    g = Graph(tensors, [Node("f0", [0, 1]), Node("f1", [1, 2])], [0], [0, 2]).plan()
    assert len({t.offset for t in g.tensors}) == 3 and g.arena_bytes == 3072


@pytest.mark.parametrize("name", ["kws01", "vww01", "ic01", "ad01"])
def test_plans_of_the_mlperf_models_are_sound_and_within_todays_ram(name: str) -> None:
    g = compiled(name, tuning=None).graph
    spans = {t.id: [len(g.nodes), -1] for t in g.tensors}
    for i, node in enumerate(g.nodes):
        for a in node.args:
            spans[a] = [min(spans[a][0], i), max(spans[a][1], i)]
    for t in g.tensors:
        if t.kind == "input":
            spans[t.id][0] = 0
        if t.kind == "output":
            spans[t.id][1] = len(g.nodes)
    held = [Interval(t.id, t.nbytes, *spans[t.id]) for t in g.tensors if t.kind != "param"]
    offsets = {t.id: t.offset for t in g.tensors}
    assert not any(_overlap(a, b, offsets) for a in held for b in held if a.key < b.key)
    before = {"kws01": 16576, "vww01": 101440, "ic01": 52288, "ad01": 1600}  # the plan before issue 23
    assert g.arena_bytes <= before[name]
    if name == "vww01":
        assert g.arena_bytes <= X_CUBE_AI_VWW01_POOL


def test_workspace_estimate_reads_each_kernels_allocations() -> None:
    head = "TVM_DLL int32_t __tvm_ffi_{}(void* self_handle, void* args, int32_t num_args, void* result) {{\n"
    source = (head.format("k0") + "  p = TVMBackendAllocWorkspace(1, dev_id, (uint64_t)2560ULL, 0, 16)));\n"
              "  q = TVMBackendAllocWorkspace(1, dev_id, (uint64_t)1ULL, 0, 8);\n}\n"
              + head.format("k1") + "  return 0;\n}\n")
    assert kernel_workspace(source) == {"k0": (2560 + 16) + (16 + 16)}


def test_budget_flags_are_checked() -> None:
    assert with_budget("auto", None) == "auto" and with_budget(None, None) is None
    assert with_budget("auto", 4096) == Budgeted("auto", 4096) and str(Budgeted("auto", 1)) == "auto"
    with pytest.raises(BudgetError, match="goes with --tuning"):
        with_budget(None, 4096)
    with pytest.raises(BudgetError, match="positive"):
        with_budget("auto", 0)


def test_a_budget_below_the_untuned_model_is_refused() -> None:
    with pytest.raises(BudgetError, match=r"below what the model needs untuned: 768 B"):
        compiled("ad01", ram_budget=100)


def test_ad01s_batch_one_dense_layers_need_no_scratch_and_the_device_agrees(tmp_path: Path) -> None:
    """ad01's shipped records make fully_connected_0 (k = 640) a blocked call; at batch 1 that call
    reads the int8 input row as it is (utvm_blk_fc_call: no scratch, issue 23's 2,560 B gone), so
    within the untuned model's 768 B no kernel falls back, with or without room. On the board, the
    RAM is what the plan says and the outputs are 0 LSB from TFLite Micro."""
    untuned, tuned, roomy = compiled("ad01", tuning=None), compiled("ad01"), compiled("ad01", ram_budget=8192)
    assert tuned.budget.budget == untuned.graph.arena_bytes == tuned.graph.arena_bytes == 768
    assert tuned.budget.fell_back == {} and tuned.budget.in_pool == []
    assert "fully_connected_0" in tuned.tuned and "fully_connected_9" in tuned.tuned
    assert "no kernel fell back" in tuned.budget.describe()
    assert "utvm_blk_fc_call(" in tuned.kernels_c and kernel_workspace(tuned.kernels_c) == {}
    assert roomy.budget.fell_back == {} and roomy.budget.in_pool == []
    assert "fully_connected_0" in roomy.tuned and kernel_workspace(roomy.kernels_c) == {}
    node = next(n for n in roomy.graph.nodes if n.func == "fully_connected_0")
    assert node.scratch == [] and roomy.graph.arena_bytes == 640 + 128  # input and output of the first layer
    ref = references.tflite_micro(mlperf_tiny_model("ad01"))
    for label, c in (("default", tuned), ("roomy", roomy)):
        out = ROOT / f"ad01-{label}"
        out.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock"):
            manifest = build_model_image(c, get_target(BOARD), out)
        (tmp_path / label).mkdir()
        with Device(manifest, workdir=tmp_path / label) as client:
            agreement = seeded_agreement(GraphModule(client, c.graph), ref, 3)
            assert client.stats()["workspace"]["high_water"] == 0, label
        assert agreement.max_diff_lsb == 0 and agreement.top1_agree == 3, (label, agreement)


def test_ic01s_blocked_scratch_goes_in_the_pool_within_the_untuned_ram() -> None:
    """On the M4, ic01's shipped records make conv2d_5, conv2d_8 and conv2d_9 blocked calls that
    need workspace; in the pool's gaps they cost nothing: no kernel falls back, same pool."""
    untuned, tuned = compiled("ic01", tuning=None), compiled("ic01")
    assert tuned.budget.in_pool == ["conv2d_5", "conv2d_8", "conv2d_9"] and tuned.budget.fell_back == {}
    assert tuned.graph.arena_bytes == untuned.graph.arena_bytes and kernel_workspace(tuned.kernels_c) == {}


def test_run_model_says_which_kernels_fell_back(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "harness.cli", "run-model", str(mlperf_tiny_model("ad01")), "--target",
           BOARD, "--tuning", "auto", "--repeat", "1", "--out", str(ROOT / "ad01-run-model")]
    text = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert text.returncode == 0, text.stderr
    assert "tuning: RAM budget 768 B (768 B activations + up to 0 B workspace); no kernel fell back" \
        in text.stdout, text.stdout
    assert "activations 768 B, workspace high water 0 B" in text.stdout
    bad = subprocess.run([*cmd, "--ram-budget", "-5", "--json"], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=900)
    assert bad.returncode != 0 and "--ram-budget must be a positive number of bytes" in bad.stderr
    assert "Traceback" not in bad.stderr
    roomy = subprocess.run([*cmd, "--ram-budget", "100000", "--json"], capture_output=True, text=True,
                           cwd=REPO_ROOT, timeout=900)
    report = json.loads(roomy.stdout)
    assert report["tuning"]["ram_budget"] == 100000 and report["tuning"]["fell_back"] == {}
    assert report["ram"]["workspace_high_water"] == 0 and report["ram"]["arena_bytes"] == 768
    assert report["outputs"][0]["max_diff_lsb"] == 0


def test_tuned_kernels_whose_workspace_does_not_fit_fall_back_and_the_device_agrees(tmp_path: Path) -> None:
    """Records of ic01 on the M7 as tuned before the blocked calls (tests/data: MetaSchedule traces
    whose convolutions allocate 1.6-1.9 KB of workspace each, which TVM's printer cannot move into
    the pool): by default those kernels fall back to their default schedule within the untuned
    model's RAM; with room they keep their traces and their workspace. The fallback runs exact."""
    require_tvm()
    board = "qemu-mps2-an500-semihosting"
    records = Path(__file__).with_name("data") / "an500-trace-records.json"
    model = mlperf_tiny_model("ic01")
    untuned, _ = compile_for(model, get_target(board))
    tuned, _ = compile_for(model, get_target(board), tuning=with_budget(records, None))
    roomy, _ = compile_for(model, get_target(board), tuning=with_budget(records, 200_000))
    assert tuned.budget.fell_back and set(tuned.budget.fell_back.values()) == {"default"}, tuned.budget
    assert "fell back to a schedule that fits" in tuned.budget.describe()
    assert tuned.graph.arena_bytes == untuned.graph.arena_bytes and kernel_workspace(tuned.kernels_c) == {}
    assert roomy.budget.fell_back == {}
    assert set(tuned.budget.fell_back) <= set(kernel_workspace(roomy.kernels_c)), roomy.budget
    out = ROOT / "ic01-m7-fallback"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        manifest = build_model_image(tuned, get_target(board), out)
    with Device(manifest, workdir=tmp_path) as client:
        agreement = seeded_agreement(GraphModule(client, tuned.graph), references.tflite_micro(model), 1)
        assert client.stats()["workspace"]["high_water"] == 0
    assert agreement.max_diff_lsb == 0 and agreement.top1_agree == 1, agreement
