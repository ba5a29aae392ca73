"""`utvm package`: the model as a C library, run by standalone firmware (no host session)
on the host target and the QEMU boards, checked against TVM's CPU build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from filelock import FileLock

from harness.errors import UtvmError
from harness.models.compile.model import compile_model, reference
from harness.models.deploy.package import Package, package
from harness.models.deploy.standalone import build_standalone, run_standalone
from tests import onnx_models
from tests.conftest import REPO_ROOT, require_tvm
from tests.models import MODELS

TARGETS = ["host", "qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505",
           "qemu-mps3-an547"]
ROOT = REPO_ROOT / "build" / "test-packages"
MALLOC = {"malloc", "free", "calloc", "realloc", "_malloc_r", "_free_r"}
_CACHE: dict[str, tuple[Package, list[np.ndarray], list[np.ndarray]]] = {}


def packaged(name: str) -> tuple[Package, list[np.ndarray], list[np.ndarray]]:
    if name not in _CACHE:
        require_tvm()
        mod, inputs = MODELS[name]()
        ROOT.mkdir(parents=True, exist_ok=True)
        with FileLock(str(ROOT / f"{name}.lock")):
            pkg = package(mod, ROOT / name, name=name)
        _CACHE[name] = (pkg, inputs, reference(compile_model(mod), inputs))
    return _CACHE[name]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_standalone_firmware_matches_tvm(model: str, target: str, tmp_path: Path) -> None:
    pkg, inputs, expected = packaged(model)
    elf = build_standalone(pkg, target, inputs, tmp_path)
    outputs = run_standalone(elf, target)
    assert len(outputs) == len(expected)
    for raw, want in zip(outputs, expected, strict=True):
        got = np.frombuffer(raw, dtype=want.dtype).reshape(want.shape)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        names = {s.name for s in symtab.iter_symbols()}
    assert not names & MALLOC, sorted(names & MALLOC)


def test_library_compiles_on_its_own_with_strict_warnings(tmp_path: Path) -> None:
    """Only the library and the caller's main: no port, no RPC, nothing of crt/ besides the copies."""
    pkg, _, _ = packaged("mlp")
    main = tmp_path / "main.c"
    main.write_text('#include "mlp.h"\nstatic unsigned char buf[MLP_MEMORY_BYTES];\n'
                    "int main(void) {\n  mlp_model_t m;\n  float x[16] = {0}, y[4];\n"
                    "  if (mlp_init(&m, buf, sizeof buf) != UTVM_OK) return 1;\n"
                    "  if (mlp_set_input(&m, 0, x, sizeof x) || mlp_run(&m)) return 2;\n"
                    "  if (mlp_init(&m, buf, 10) != UTVM_ERR_NO_MEMORY) return 3;\n"
                    "  return mlp_get_output(&m, 0, y, sizeof y) == UTVM_OK ? 0 : 4;\n}\n")
    for cc, extra in (("gcc", []), ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-c"])):
        out = tmp_path / f"lib-{cc}"
        out.mkdir()
        srcs = [str(p) for p in pkg.sources] + [str(main)]
        cmd = [cc, "-std=c11", "-Os", "-Wall", "-Wextra", "-Werror", f"-I{pkg.include}", *extra, *srcs]
        cmd += [] if extra else ["-o", str(out / "a.out"), "-lm"]
        subprocess.run(cmd, cwd=out, check=True, capture_output=True)
    assert subprocess.run([str(tmp_path / "lib-gcc" / "a.out")], check=False).returncode == 0


def test_parameters_go_in_the_chosen_section_in_flash(tmp_path: Path) -> None:
    require_tvm()
    mod, inputs = MODELS["cnn"]()
    pkg = package(mod, tmp_path / "pkg", name="cnn", param_section=".utvm_weights")
    assert '__attribute__((section(".utvm_weights")' in (pkg.out / "src" / "cnn_graph.c").read_text()
    elf = build_standalone(pkg, "qemu-mps2-an385", inputs, tmp_path / "fw")
    with open(elf, "rb") as f:
        e = ELFFile(f)
        section = e.get_section_by_name(".utvm_weights")
        assert section is not None and not section["sh_flags"] & SH_FLAGS.SHF_WRITE
        assert section["sh_addr"] + section["sh_size"] <= 0x0040_0000, "weights must be in flash"
    assert len(run_standalone(elf, "qemu-mps2-an385")) == 1


def test_package_cli_and_its_errors(tmp_path: Path) -> None:
    require_tvm()
    model = onnx_models.mlp(tmp_path / "mlp.onnx")
    utvm = [sys.executable, "-m", "harness.cli", "package"]
    proc = subprocess.run([*utvm, str(model), "--out", str(tmp_path / "lib"), "--name", "net"],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "lib" / "include" / "net.h").is_file() and (tmp_path / "lib" / "net.mk").is_file()
    proc = subprocess.run([*utvm, str(model), "--out", str(tmp_path / "x"), "--name", "Bad-Name"],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert proc.returncode == 1 and "a C identifier" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(UtvmError, match="section name"):
        package(model, tmp_path / "y", param_section="no dot")
