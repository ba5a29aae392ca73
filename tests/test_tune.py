"""`utvm tune` for real: an int8 conv and kws01 tuned for a few trials on the host and a QEMU board,
the database applied by run-model and package, a wrong candidate rejected, a faulting candidate
recorded while the run goes on, and a tune killed with SIGKILL resumed without losing a record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from harness.models.compile import records as tuning_records
from harness.models.deploy.package import package
from harness.models.deploy.run import run_model
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm, shared_kernels_differ
from tests.tflite_ops import OpModel

if TYPE_CHECKING:
    from harness.tune.tasks import Task



def conv_model(tmp: Path) -> Path:
    """An int8 3x3 conv, SAME, 8 -> 16 channels: a kernel with a real search space."""
    rng = np.random.default_rng(0)
    model = OpModel(
        "CONV_2D", [((1, 10, 10, 8), 0.05, 3)], ((1, 10, 10, 16), 0.2, -5),
        constants=[(rng.integers(-127, 128, (16, 3, 3, 8)).astype(np.int8), [0.01] * 16, 0),
                   (rng.integers(-5000, 5000, 16).astype(np.int32), [0.0005] * 16, 0)],
        options=("Conv2DOptions", {"padding": 0, "strideW": 1, "strideH": 1, "fusedActivationFunction": 1}))
    path = tmp / "conv.tflite"
    path.write_bytes(model.build())
    return path


def _tune(model: Path, target: str, db: Path, trials: int) -> object:
    from harness.tune.session import TuneOptions, tune

    return tune(model, TuneOptions(target=target, db=db, trials=trials, devices=1))


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an386"])
def test_tune_conv_then_run_model_and_package_use_the_records(target: str, tmp_path: Path) -> None:
    require_tvm()
    model, db = conv_model(tmp_path), tmp_path / "db"
    result = _tune(model, target, db, trials=6)
    (k,) = result.kernels  # type: ignore[attr-defined]
    assert k.trials >= 6 and k.before and k.after and k.after <= k.before
    if target != "host":  # exact instruction counts: the best is at least the default's
        assert k.after <= k.before
    records = tuning_records.Database.open(db, target).records(_conv_func(model))
    assert len(records) >= 6
    run = run_model(model, target, tmp_path / "run", repeat=1, tuning=db)
    assert run.report["tuning"]["kernels"] == ["conv2d_0"]
    out = run.report["outputs"][0]
    assert out["max_diff_lsb"] == 0 and out["top1_agrees"], out
    pkg = package(model, tmp_path / "pkg", tuning=db)  # checks its own outputs against TFLite Micro
    packaged = (pkg.out / "src" / "model_kernels.c").read_text()
    assert (tmp_path / "run" / "kernels.c").read_text() in packaged  # exactly the measured kernels
    best = tmp_path / "best.json"  # the shipped form (--tuning auto): same kernels as the database's
    assert tuning_records.export_best(tuning_records.Database.open(db), best) == 1
    again = run_model(model, target, tmp_path / "run2", repeat=1, tuning=best)
    assert (tmp_path / "run2" / "kernels.c").read_text() == (tmp_path / "run" / "kernels.c").read_text()
    assert again.report["outputs"][0]["max_diff_lsb"] == 0


def _conv_func(model: Path) -> object:
    from harness.tune.tasks import extract

    (task,) = [t for t in extract(model) if t.op == "conv2d"]
    return task.func


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an386"])
def test_wrong_candidate_is_rejected_and_a_faulting_one_recorded(target: str, tmp_path: Path) -> None:
    """Three candidates in one image: one computes a wrong answer (a copy of the input), one
    traps (a HardFault on the board, SIGILL on the host), one is right. The wrong one is rejected,
    the trap is an error of its own, the device restarts and the right one is measured."""
    tvm = require_tvm()
    from harness.tune.builder import ImageBuilder
    from harness.tune.runner import DevicePool, DeviceSlot, local_device
    from harness.tune.space import default
    from harness.tune.tasks import extract

    (task,) = [t for t in extract(conv_model(tmp_path)) if t.op == "conv2d"]
    good = tvm.s_tir.Schedule(task.workload)
    default(good)
    wrong = _same_signature_wrong_kernel(task)
    trap = _faulting(task.workload["main"])
    mods = [tvm.IRModule({"main": f}) for f in (wrong, trap, good.mod["main"])]
    arts = ImageBuilder(target, [task], tmp_path / "images").build(mods)
    assert all(not isinstance(a, str) for a in arts), arts
    slot = DeviceSlot("d0", local_device)
    results = DevicePool([slot], tmp_path / "dev").run_image(arts[0].manifest, arts)  # type: ignore[union-attr]
    assert results[0].rejected and results[0].error.startswith("wrong output"), results[0]
    assert results[1].error and "fault" in results[1].error and not results[1].rejected, results[1]
    assert results[2].error is None and results[2].seconds, results[2]
    assert slot.restarts == 1


def test_a_candidate_that_does_not_link_fails_alone(tmp_path: Path) -> None:
    """A candidate calling a function no image defines compiles but stops its image linking: the
    builder builds halves of the image until that candidate is alone, and the others still measure."""
    tvm = require_tvm()
    from harness.tune.builder import Artifact, ImageBuilder
    from harness.tune.runner import DevicePool, DeviceSlot, local_device
    from harness.tune.space import default
    from harness.tune.tasks import extract

    (task,) = [t for t in extract(conv_model(tmp_path)) if t.op == "conv2d"]
    good = tvm.s_tir.Schedule(task.workload)
    default(good)
    call = tvm.tirx.Evaluate(tvm.tirx.call_extern("int32", "utvm_test_defined_nowhere"))
    func = task.workload["main"]
    unlinkable = func.with_body(tvm.tirx.SeqStmt([call, func.body]))
    mods = [tvm.IRModule({"main": f}) for f in (good.mod["main"], unlinkable, good.mod["main"])]
    arts = ImageBuilder("host", [task], tmp_path / "images").build(mods)
    assert isinstance(arts[1], str) and arts[1].startswith("build failed"), arts[1]
    assert "utvm_test_defined_nowhere" in arts[1], arts[1]
    built = [a for a in (arts[0], arts[2]) if isinstance(a, Artifact)]
    assert len(built) == 2, arts
    pool = DevicePool([DeviceSlot("d0", local_device)], tmp_path / "dev")
    for art in built:
        (measured,) = pool.run_image(art.manifest, [art])
        assert measured.error is None and measured.seconds, measured


def test_an_image_that_fails_without_its_candidates_is_not_built_in_halves(tmp_path: Path) -> None:
    """When the reference kernels alone do not link, no candidate is to blame: all fail at once, with
    the linker's reason, after one image of candidates and one of the references alone."""
    tvm = require_tvm()
    from harness.tune.builder import ImageBuilder
    from harness.tune.space import default
    from harness.tune.tasks import extract

    (task,) = [t for t in extract(conv_model(tmp_path)) if t.op == "conv2d"]
    good = tvm.s_tir.Schedule(task.workload)
    default(good)
    builder = ImageBuilder("host", [task], tmp_path / "images")
    builder._refs[task.key] = builder._ref_c(task.key) + (
        "int utvm_test_defined_nowhere(void);\n"
        "int utvm_test_broken_ref(void) { return utvm_test_defined_nowhere(); }\n")
    built: list[object] = []
    real = builder._build
    builder._build = lambda sources, keys: built.append(sorted(sources)) or real(sources, keys)  # type: ignore[method-assign]
    arts = builder.build([tvm.IRModule({"main": good.mod["main"]}) for _ in range(4)])
    assert all(isinstance(a, str) and "utvm_test_defined_nowhere" in a for a in arts), arts
    assert len(built) == 2, built


def _faulting(func: object) -> object:
    """The kernel, first writing to an address no memory answers (0xFFFFFFF0): a BusFault, hence a
    HardFault and a reset, on the Cortex-M; SIGSEGV on the host."""
    import tvm

    nowhere = tvm.tirx.reinterpret("handle", tvm.tirx.const(0xFFFFFFF0, "uint64"))
    store = tvm.tirx.Evaluate(tvm.tirx.call_extern("handle", "memset", nowhere, 0, 16))
    return func.with_body(tvm.tirx.SeqStmt([store, func.body]))  # type: ignore[attr-defined]


def _same_signature_wrong_kernel(task: Task) -> object:
    """A kernel with the task's signature and key that copies input channels instead of convolving."""
    from tvm import te

    ins = [te.placeholder(a.shape, str(a.dtype), name=f"in{i}") for i, a in enumerate(task.args[:-1])]
    channels = int(ins[0].shape[-1])
    res = te.compute(task.args[-1].shape, lambda n, y, x, c: ins[0][n, y, x, c % channels], name="out")
    prim = te.create_prim_func([*ins, res])
    attrs = task.workload["main"].attrs
    return prim.with_attrs({k: attrs[k] for k in (tuning_records.TASK_ATTR, tuning_records.OP_ATTR)})


@pytest.mark.parametrize("target", ["host", "qemu-mps2-an386"])
def test_kws01_tuned_matches_tflite_micro(target: str, tmp_path: Path) -> None:
    require_tvm()
    model = mlperf_tiny_model("kws01")
    db = tmp_path / "db"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(model), "--target",
                           target, "--trials", "8", "--db", str(db), "--devices", "1", "--json"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[tune]" in proc.stderr and "ETA" in proc.stderr  # progress for a person

    report = json.loads(proc.stdout)
    whole = report["model"]
    if target == "host":  # wall-clock time: only that it ran and matched
        assert whole["unit"] == "us" and whole["after"] > 0, whole
    else:  # exact instruction counts: the tuned model is faster
        assert whole["unit"] == "instructions" and whole["after"] < whole["before"], whole
    assert whole["max_diff_lsb"] == 0 and whole["top1_agrees"]
    assert {k["task"] for k in report["kernels"]} >= {"conv2d_0", "conv2d_2", "depthwise_conv2d_1"}
    html = (db / "report.html").read_text()
    assert "<svg" in html and "conv2d_2" in html


def _records(db: Path) -> list[str]:
    path = db / tuning_records.RECORDS
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def test_tune_killed_with_sigkill_resumes_without_losing_records(tmp_path: Path) -> None:
    require_tvm()
    model, db = conv_model(tmp_path), tmp_path / "db"
    cmd = [sys.executable, "-m", "harness.cli", "tune", str(model), "--target", "host", "--trials", "24",
           "--db", str(db), "--devices", "1", "--no-model-check"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(_records(db)) < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _records(db)
    assert 6 <= len(before) < 24, len(before)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _records(db)
    assert len(after) >= 24
    assert all(line in after for line in before if line.endswith("]")), "a record was lost"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_tune_workers_behind_a_tvm_rpc_tracker_share_one_job(tmp_path: Path) -> None:
    """TVM's own tracker (python -m tvm.exec.rpc_tracker), two `utvm tune-worker`s on loopback, and a
    tune that asks the tracker for them: both build and measure part of the job."""
    require_tvm()
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                               "--port", str(port), "--port-end", str(port + 1)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    logs = [tmp_path / "w0.log", tmp_path / "w1.log"]
    try:
        time.sleep(2)
        for log in logs:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "harness.cli", "tune-worker", "--tracker", f"127.0.0.1:{port}",
                 "--key", "utvm-test", "--target", "host", "--host", "127.0.0.1",
                 "--port", str(_free_port())],
                stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all("serving" in log.read_text() for log in logs):
            time.sleep(0.5)
        time.sleep(3)  # registered with the tracker
        model, db = conv_model(tmp_path), tmp_path / "db"
        done = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(model), "--target", "host",
                               "--trials", "8", "--db", str(db), "--tracker", f"127.0.0.1:{port}", "--key",
                               "utvm-test", "--no-model-check"], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        counts = [log.read_text().count("utvm tune-worker: measured") for log in logs]
        assert all(c >= 1 for c in counts), counts
        assert len(_records(db)) >= 8
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_tune_on_a_lab_board_leased_as_the_nightly_leases_it(tmp_path: Path) -> None:
    """A virtual lab (QEMU behind a pseudo-terminal, flashed and reset by its inventory's commands):
    `utvm tune --inventory --board` takes the board under the nightly's lease, measures on it, and
    gives the lease back."""
    require_tvm()
    from utvm_ci.lab import virtual_lab
    from utvm_ci.lab.lease import Lease

    inventory = tmp_path / "lab" / "lab.yaml"
    virtual_lab.start(virtual_lab.plan(1, ["qemu-mps2-an385"], [], tmp_path / "lab"), inventory)
    try:
        board = virtual_lab.plan(1, ["qemu-mps2-an385"], [], tmp_path / "lab")[0].name
        model, db, state = conv_model(tmp_path), tmp_path / "db", tmp_path / "state"
        env = {**os.environ, "UTVM_HIL_STATE": str(state)}
        lab = ["--inventory", str(inventory), "--board", board]
        done = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(model), "--target",
                               "qemu-mps2-an385", "--trials", "4", "--db", str(db), *lab, "--no-model-check"],
                              capture_output=True, text=True, timeout=900, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert len(_records(db)) >= 4
        assert (state / "leases").is_dir() and Lease(state / "leases", board).holder() is None  # given back
        wrong = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(model), "--target", "host",
                                "--db", str(tmp_path / "db2"), *lab], capture_output=True, text=True,
                               timeout=300, env=env)
        assert wrong.returncode != 0 and "not a host" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:
        virtual_lab.stop(inventory)


def test_shipped_records_tune_kws01_on_an386_with_tuning_auto(tmp_path: Path) -> None:
    """`--tuning auto`: the records shipped in tuning/qemu-mps2-an386/best.json (made with `utvm tune
    --trials 64` and `utvm tune-export`) give kws01 at most microTVM's autotuned 17.3 M instructions,
    bit-exact with TFLite Micro. A target with no shipped records is a one-line error."""
    require_tvm()
    model = mlperf_tiny_model("kws01")
    run = run_model(model, "qemu-mps2-an386", tmp_path / "auto", repeat=1, tuning="auto")
    assert run.report["tuning"]["kernels"], run.report["tuning"]
    assert run.report["instructions"]["median"] <= 17.3e6 * 0.6, run.report["instructions"]
    out = run.report["outputs"][0]
    assert out["max_diff_lsb"] == 0 and out["top1_agrees"]
    none = subprocess.run([sys.executable, "-m", "harness.cli", "run-model", str(model), "--target", "host",
                           "--tuning", "auto", "--out", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=300)
    assert none.returncode != 0 and "no tuned records ship for host" in none.stderr
    assert "Traceback" not in none.stderr


def test_shipped_records_for_the_m55_use_helium_and_stay_exact(tmp_path: Path) -> None:
    """tuning/qemu-mps3-an547/best.json (utvm tune --trials 64 per MLPerf Tiny model, then the blocked
    kernels measured beside the records): kws01's convolutions, depthwise and fully connected layers
    are the blocked calls of dsp_blocked.h, whose Helium path (MVE) the M55 build takes, and kws01 runs
    in under a third of its untuned 15.59 M instructions (4.53 M with the search's Helium tiles alone,
    1.41 M with the blocked kernels: issue 22's 1.66 M), bit-exact with TFLite Micro. The board's
    records serve its semihosting target too (the same core running the same kernels)."""
    require_tvm()
    model = mlperf_tiny_model("kws01")
    run = run_model(model, "qemu-mps3-an547-semihosting", tmp_path / "auto", repeat=1, tuning="auto")
    kernels = run.report["tuning"]["kernels"]
    assert kernels, run.report["tuning"]
    shipped = json.loads((REPO_ROOT / "tuning" / "qemu-mps3-an547" / "best.json").read_text())
    assert any(r.get("blocked") for r in shipped["records"].values())
    source = (tmp_path / "auto" / "kernels.c").read_text()
    calls = ("utvm_blk_conv_call", "utvm_blk_dw_call", "utvm_blk_matmul_call")
    assert all(f"{call}(" in source for call in calls)
    assert run.report["instructions"]["median"] <= 15.59e6 / 3, run.report["instructions"]
    assert run.report["instructions"]["median"] <= 1.66e6, run.report["instructions"]  # SMLAD path: 7.87 M
    out = run.report["outputs"][0]
    assert out["max_diff_lsb"] == 0 and out["top1_agrees"]


@pytest.mark.parametrize("argv, message", [
    (["--time", "5x"], "expected a duration like 90s, 20m or 1h"),
    (["--tracker", "127.0.0.1:1"], "--tracker and --key go together"),
    (["--board", "b1"], "--board names a board of an --inventory"),
    (["--tracker", "127.0.0.1:1", "--key", "k", "--inventory", "lab.yaml"], "two different farms: give one"),
    (["--devices", "-1"], "--devices must be positive"),
    ([], "is neither a TFLite flatbuffer nor an ONNX model"),
])
def test_bad_tune_flags_are_one_line_errors(argv: list[str], message: str, tmp_path: Path) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\x00" * 16)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(model), "--db",
                           str(tmp_path / "db"), *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_tune_with_the_aot_executor_checks_the_whole_model_through_aot(tmp_path: Path) -> None:
    """`utvm tune --executor aot`: the kernels measured are the same; the whole model before and after runs
    through the AOT image (no graph executor in it), with the very kernels the graph image gets."""
    require_tvm()
    import json

    from elftools.elf.elffile import ELFFile

    model, db, target = conv_model(tmp_path), tmp_path / "db", "qemu-mps2-an386"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(model), "--target", target,
                           "--trials", "4", "--db", str(db), "--devices", "1", "--executor", "aot", "--json"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    whole = json.loads(proc.stdout)["model"]
    assert whole["executor"] == "aot" and whole["unit"] == "instructions", whole
    assert whole["after"] <= whole["before"] and whole["max_diff_lsb"] == 0 and whole["top1_agrees"], whole
    assert "whole model (aot executor)" in (db / "report.txt").read_text()
    after = db / "runs" / "after"
    assert (after / "model_aot.c").exists() and not (after / "model_graph.c").exists()
    with open(next((after / "image").glob("*.elf")), "rb") as f:
        names = {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    assert "utvm_aot_run" in names and "utvm_graph_run" not in names
    graph = run_model(model, target, tmp_path / "graph", repeat=1, tuning=db)
    # the graph image's tuned kernels call the very plain functions the AOT image runs
    assert shared_kernels_differ((tmp_path / "graph" / "kernels.c").read_text(),
                                   (after / "kernels.c").read_text()) == []
    assert graph.report["instructions"]["median"] >= whole["after"]


def test_tune_for_a_time_stops_every_task_still_running(tmp_path: Path) -> None:
    """`--time`: at the deadline every task still searching is terminated, not those that finished
    (ad01's small layers exhaust their space first; terminating one twice was a TVM InternalError)."""
    require_tvm()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "tune", str(mlperf_tiny_model("ad01")),
                           "--target", "host", "--time", "8s", "--db", str(tmp_path / "db"),
                           "--no-model-check", "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    tasks = json.loads(proc.stdout)["kernels"]
    assert len(tasks) > 1 and all(t["trials"] > 0 and t["after"] <= t["before"] for t in tasks), tasks
