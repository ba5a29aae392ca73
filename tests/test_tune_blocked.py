"""The blocked kernels (utvm/dsp_blocked.h) as a tuning choice, for real on QEMU: `utvm tune` measures
a kernel's blocked call beside its schedules and records it where it wins, `utvm tune-export` carries it
into the records file as {"blocked": true}, and run-model with the database or that file compiles the
kernel as the blocked call, bit-exact with TFLite Micro. A batch-1 fully-connected call is measured as
the model runs it: on the weights packed where the target's build packs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.models.compile import blocked_choice
from harness.models.compile import records as tuning_records
from harness.models.deploy.run import run_model
from harness.targets import get_target
from tests.conftest import mlperf_tiny_model, require_tvm
from tests.test_tune import conv_model

TARGET = "qemu-mps2-an386"


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True,
                          timeout=900)


def test_tune_records_the_blocked_kernel_where_it_wins_and_run_model_uses_it(tmp_path: Path) -> None:
    require_tvm()
    model, db, best = conv_model(tmp_path), tmp_path / "db", tmp_path / "best.json"
    proc = _cli("tune", str(model), "--target", TARGET, "--trials", "0", "--db", str(db), "--devices", "1",
                "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    (k,) = report["kernels"]
    chosen = blocked_choice.measured(db)
    (entry,) = chosen.values()
    assert entry["op"] == "conv2d", chosen
    # the blocked call measured on the device, faster than the default schedule: the kernel's best
    assert entry["seconds"] == k["blocked"] == k["after"] < k["before"], (entry, k)
    assert k["chosen"] == "blocked" and (db / "report.txt").read_text().splitlines()[2].endswith("  blocked")
    whole = report["model"]  # the whole model through the database: faster, and exact
    assert whole["after"] < whole["before"] and whole["max_diff_lsb"] == 0 and whole["top1_agrees"], whole
    assert whole["tuned_kernels"] == ["conv2d_0"]

    again = _cli("tune", str(model), "--target", TARGET, "--trials", "0", "--db", str(db), "--devices", "1",
                 "--no-model-check")  # measured again beside the best schedule, not beside itself: kept
    kept = blocked_choice.measured(db)
    assert again.returncode == 0 and kept.keys() == chosen.keys(), again.stderr[-3000:]
    tick = 1 / (get_target(TARGET).cpu_hz or 1)  # device time is read to a tick of the board's clock
    for key, was in chosen.items():
        now = kept[key]
        assert now["op"] == was["op"] and abs(now["seconds"] - was["seconds"]) <= 1.01 * tick, kept

    export = _cli("tune-export", str(db), "--to", str(best))
    assert export.returncode == 0, export.stderr[-2000:]
    (shipped,) = json.loads(best.read_text())["records"].values()
    (kept_entry,) = kept.values()  # what the database holds after the second tune: what is exported
    assert shipped == {"op": "conv2d", "seconds": kept_entry["seconds"], "blocked": True}
    for label, tuning in (("db", db), ("file", best)):
        run = run_model(model, TARGET, tmp_path / label, repeat=1, tuning=tuning)
        assert run.report["tuning"]["kernels"] == ["conv2d_0"]
        assert "utvm_blk_conv_call(" in (tmp_path / label / "kernels.c").read_text()
        out = run.report["outputs"][0]
        assert out["max_diff_lsb"] == 0 and out["top1_agrees"], out
        assert run.report["instructions"]["median"] < whole["before"], (label, run.report["instructions"])
    assert (tmp_path / "db" / "kernels.c").read_text() == (tmp_path / "file" / "kernels.c").read_text()


def test_a_record_that_beats_the_blocked_kernel_keeps_its_trace(tmp_path: Path) -> None:
    """The blocked entry of a database is taken only while faster than the best record (one found after
    it won), exported only then, and dropped when a later measurement has it lose."""
    require_tvm()
    from harness.tune import space
    from harness.tune.tasks import extract

    model, db = conv_model(tmp_path), tmp_path / "db"
    (task,) = [t for t in extract(model) if t.op == "conv2d"]
    database = tuning_records.Database.open(db, TARGET, create=True)
    database.commit(task.func, space.default, 1e-3)
    blocked_choice.record(db, task.key, task.op, 2e-3)  # slower than the record
    assert "utvm.blocked" not in database.best(task.func).attrs
    out = tmp_path / "best.json"
    tuning_records.export_best(tuning_records.Database.open(db), out)
    assert "trace" in json.loads(out.read_text())["records"][task.key]
    blocked_choice.record(db, task.key, task.op, 0.5e-3)
    assert "utvm.blocked" in database.best(task.func).attrs
    tuning_records.export_best(tuning_records.Database.open(db), out)
    assert json.loads(out.read_text())["records"][task.key]["blocked"] is True
    blocked_choice.record(db, task.key, task.op, None)
    assert blocked_choice.measured(db) == {} and "utvm.blocked" not in database.best(task.func).attrs


def test_a_fully_connected_kernel_is_measured_on_the_weights_the_model_runs_on(tmp_path: Path) -> None:
    """ad01 on the M4: each fully-connected kernel's blocked call as `utvm tune` measures it (its packed
    form, utvm/dsp_blocked_fcp.h) takes the time, to a tick, of the same kernel called directly in the
    model that run-model builds with that database (on file-order weights it was 70.0 us, not 47.8 us,
    for fully_connected_4)."""
    require_tvm()
    from harness.device import Device
    from harness.models.deploy.overhead import kernel_seconds
    from harness.models.deploy.run import build_model_image, compile_for, load_inputs
    from harness.tune.tasks import extract

    target, model, db = f"{TARGET}-semihosting", mlperf_tiny_model("ad01"), tmp_path / "db"
    proc = _cli("tune", str(model), "--target", target, "--trials", "0", "--db", str(db), "--devices", "1",
                "--no-model-check")
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = blocked_choice.measured(db)
    assert len(chosen) == 10 and {e["op"] for e in chosen.values()} == {"fully_connected"}, chosen

    tgt = get_target(target)
    compiled, _ = compile_for(model, tgt, db)
    assert compiled.kernels_c.count("utvm_blk_fc_call(") == 10
    assert all(ln.endswith(", 1);") for ln in compiled.kernels_c.splitlines() if "utvm_blk_fc_call(" in ln)
    image = build_model_image(compiled, tgt, tmp_path / "model", "graph")
    with Device(image, workdir=tmp_path / "model") as client:
        seconds = kernel_seconds(client, compiled.graph, load_inputs(compiled.graph, None))
    in_model = {n.func: s for n, s in zip(compiled.graph.nodes, seconds, strict=True)}
    tick = 1 / (tgt.cpu_hz or 1)
    for task in extract(model):
        (kernel,) = task.kernels
        entry = chosen[task.key]
        assert abs(entry["seconds"] - in_model[kernel]) <= 1.01 * tick, (kernel, entry, in_model[kernel])
