"""The C templates under crt/templates/, filled with sample values, compile warning-free as C11 on
the host and for Cortex-M3 (object only)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import resources
from harness.build import template

SAMPLE_HEADER = """#include <stddef.h>
#include <stdint.h>
#include "utvm/runtime.h"
#define NET_MEMORY_BYTES 256
#define NET_OUTPUT_0_BYTES 4
typedef struct { int unused; } net_model_t;
utvm_status_t net_init(net_model_t* m, void* memory, size_t bytes);
utvm_status_t net_set_input(net_model_t* m, uint32_t i, const void* data, size_t bytes);
utvm_status_t net_run(net_model_t* m);
utvm_status_t net_get_output(net_model_t* m, uint32_t i, void* data, size_t bytes);
"""

SAMPLES = {
    "standalone_main.c": dict(
        name="net", NAME="NET",
        arrays="static const uint8_t k_input_0[] = {0x01, 0x02};",
        bufs="static uint8_t g_out_0[NET_OUTPUT_0_BYTES];",
        sets="  if (st == UTVM_OK) st = net_set_input(&m, 0, k_input_0, sizeof(k_input_0));",
        outs="  if (st == UTVM_OK) st = report(0, &m, g_out_0, sizeof(g_out_0));"),
}

COMPILERS = {"gcc": ("-std=c11",), "arm-none-eabi-gcc": ("-std=c11", "-mcpu=cortex-m3", "-mthumb")}


def test_every_template_has_a_sample() -> None:
    assert sorted(p.name for p in template.templates_dir().glob("*.c")) == sorted(SAMPLES)


@pytest.mark.parametrize("cc", sorted(COMPILERS))
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_template_compiles(name: str, cc: str, tmp_path: Path) -> None:
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    (tmp_path / "net.h").write_text(SAMPLE_HEADER)
    src = tmp_path / name
    src.write_text(template.fill(name, **SAMPLES[name]))
    proc = subprocess.run([cc, *COMPILERS[cc], "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}",
                           f"-I{resources.crt() / 'include'}", "-c", str(src), "-o", str(tmp_path / "t.o")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
