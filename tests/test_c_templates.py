"""The C templates under crt/templates/, filled with sample values, compile warning-free as C11 on
the host and for Cortex-M3 (object only). The mains are compiled against the filled package.h, the
header a package ships; a header template is compiled through a tiny source that includes it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from string import Template

import pytest

from harness import resources
from harness.build import template

SIZES = "#define NET_INPUT_0_BYTES 8u /* x: int8[1, 8] */\n#define NET_OUTPUT_0_BYTES 4u /* int8[1, 4] */"
HEADER = dict(name="net", NAME="NET", num_inputs=1, num_outputs=1, arena_bytes=64, workspace=32, memory=1024,
              sizes=SIZES)

SAMPLES = {
    "package.h": HEADER,
    "package_api.c": dict(
        name="net", NAME="NET", tables_slack=512,
        decls="int32_t __tvm_ffi_add(void*, void*, int32_t, void*);",
        entries='    {"add", __tvm_ffi_add, NULL},'),
    "standalone_main.c": dict(
        name="net", NAME="NET",
        arrays="static const uint8_t k_input_0[] = {0x01, 0x02};",
        bufs="static uint8_t g_out_0[NET_OUTPUT_0_BYTES];",
        sets="  if (st == UTVM_OK) st = net_set_input(&m, 0, k_input_0, sizeof(k_input_0));",
        outs="  if (st == UTVM_OK) st = report(0, &m, g_out_0, sizeof(g_out_0));"),
    "mlperf_main.c": dict(
        name="net", NAME="NET", device_name="utvm-host", model_name="kws01",
        bufs="static int8_t g_out_0[4];",
        table="    {g_out_0, 4u, UTVM_MLPERF_I8, 1, 0.00390625f, -128},  /* int8[4] */",
        gets="  if (st == UTVM_OK) st = net_get_output(&g_model, 0, g_out_0, sizeof(g_out_0));",
        shift="  for (size_t i = 0; i < n; ++i) g_input[i] ^= 0x80u; /* uint8 pixels <-> int8 */\n"),
    "mlperf_aot_main.c": dict(
        name="net", NAME="NET", device_name="utvm-host", model_name="ic01",
        bufs="static int8_t g_out_0[4] __attribute__((aligned(64)));\n"
             "static uint8_t g_pixels[NET_INPUT_0_BYTES] __attribute__((aligned(64)));",
        table="    {g_out_0, 4u, UTVM_MLPERF_I8, 1, 0.00390625f, -128},  /* int8[4] */",
        shift="  for (size_t i = 0; i < sizeof(g_pixels); ++i) g_pixels[i] = g_input[i] ^ 0x80u;\n",
        input="g_pixels", outs="g_out_0"),
    "aot_package.h": dict(
        name="net", NAME="NET", num_inputs=1, num_outputs=1, align=64, arena_bytes=128, scratch=32,
        sizes=SIZES),
    "aot_model.c": dict(
        name="net", num_calls=1, num_inputs=1, num_outputs=1, arena_bytes=128,
        tables="""static const int64_t k_shape_0[] = {1, 8};
static const int64_t k_shape_1[] = {1, 8};
int32_t utvm_k_relu(void* args);""",
        io="""  {k_shape_0, 0u, 8u, 0, 8, 2},
  {k_shape_1, 64u, 8u, 0, 8, 2},""",
        calls="  UTVM_AOT_CALL(clock, 0, utvm_k_relu((void*[]){io[0], io[1]}));"),
    "kernel_entries.c": dict(entries="UTVM_KERNEL_ENTRY int32_t utvm_k_relu(void* utvm_args);"),
    "graph_model.c": dict(
        num_tensors=2, num_nodes=1, num_inputs=1, num_outputs=1, arena_bytes=128,
        tables="""static const int64_t k_shape_0[] = {1, 8};
static const int64_t k_shape_1[] = {1, 8};
static const utvm_graph_tensor_t k_tensors[] = {
  {"x", k_shape_0, 2, {0, 8, 1}, 0, 0u, 0},
  {"y", k_shape_1, 2, {0, 8, 1}, 3, 64u, 0},
};
static const uint32_t k_args[] = {0, 1};
static const utvm_graph_node_t k_nodes[] = {
  {"relu", 0u, 2u},
};
static const uint32_t k_inputs[] = {0};
static const uint32_t k_outputs[] = {1};"""),
}

# A header template is compiled as this source, with the filled header as <net.h>.
INCLUDER = """#include "net.h"
size_t utvm_template_check(void);
size_t utvm_template_check(void) { return ${uses}; }
"""
USES = {"package.h": "sizeof(net_model_t) + NET_MEMORY_BYTES + NET_NUM_INPUTS + NET_INPUT_0_BYTES",
        "aot_package.h": "sizeof(net_model) + NET_WORKSPACE_BYTES + NET_KERNEL_WORKSPACE_BYTES"}

COMPILERS = {"gcc": ("-std=c11",), "arm-none-eabi-gcc": ("-std=c11", "-mcpu=cortex-m3", "-mthumb")}


def test_every_template_has_a_sample() -> None:
    found = [p.name for p in template.templates_dir().iterdir() if p.suffix in (".c", ".h")]
    assert sorted(found) == sorted(SAMPLES)


@pytest.mark.parametrize("cc", sorted(COMPILERS))
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_template_compiles(name: str, cc: str, tmp_path: Path) -> None:
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    header = "aot_package.h" if "aot" in name else "package.h"  # what the main is compiled against
    (tmp_path / "net.h").write_text(template.fill(header, **SAMPLES[header]))
    filled = template.fill(name, **SAMPLES[name])
    if name.endswith(".h"):
        (tmp_path / "net.h").write_text(filled)
        filled = Template(INCLUDER).substitute(uses=USES[name])
    src = tmp_path / (Path(name).stem + ".c")
    src.write_text(filled)
    proc = subprocess.run([cc, *COMPILERS[cc], "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}",
                           f"-I{resources.crt() / 'include'}", "-c", str(src), "-o", str(tmp_path / "t.o")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
