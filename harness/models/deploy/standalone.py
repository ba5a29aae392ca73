"""A standalone firmware around a packaged model: no host session, no RPC. It runs the
model once on inputs built into it and reports the outputs through the port's link:

    UTVM-OUTPUT <i> <hex bytes>
    UTVM-DONE <status>
"""

from __future__ import annotations

import re
import select
import subprocess
import time
from pathlib import Path

import numpy as np

from harness import resources
from harness.build import template
from harness.build.image import _run
from harness.errors import InfrastructureError, UtvmError
from harness.link.transport import die_with_parent
from harness.models.deploy.package import Package
from harness.targets import get_target

_OUTPUT = re.compile(rb"UTVM-OUTPUT (\d+) ([0-9a-f]*)\r?\n")
_DONE = re.compile(rb"UTVM-DONE (.+?)\r?\n")


def _c_bytes(data: bytes) -> str:
    return ", ".join(f"0x{b:02x}" for b in data) or "0"


def main_source(pkg: Package, inputs: list[np.ndarray]) -> str:
    n, up = pkg.name, pkg.name.upper()
    arrays = "\n".join(f"static const uint8_t k_input_{i}[] = {{{_c_bytes(np.asarray(x).tobytes())}}};"
                       for i, x in enumerate(inputs))
    sets = "\n".join(f"  if (st == UTVM_OK) st = {n}_set_input(&m, {i}, k_input_{i}, sizeof(k_input_{i}));"
                     for i in range(len(inputs)))
    outs = "\n".join(f"  if (st == UTVM_OK) st = report({i}, &m, g_out_{i}, sizeof(g_out_{i}));"
                     for i in range(len(pkg.graph.outputs)))
    bufs = "\n".join(f"static uint8_t g_out_{i}[{up}_OUTPUT_{i}_BYTES];"
                     for i in range(len(pkg.graph.outputs)))
    return template.fill("standalone_main.c", name=n, NAME=up, arrays=arrays, bufs=bufs, sets=sets, outs=outs)


def build_firmware(pkg: Package, target_name: str, sources: list[Path], out: Path, name: str,
                   cflags: tuple[str, ...] = ()) -> Path:
    """The package built with the target port's platform (its own main left out) and `sources`,
    which bring a main; the ELF is out/<name>.elf."""
    target = get_target(target_name)
    out.mkdir(parents=True, exist_ok=True)
    port = [f for f in target.port_files() if f.name != "main.c" and "semihosting" not in f.name]
    for link_name, text in target.link_files.items():
        (out / link_name).write_text(text)
    defines = [f"-D{k}={v}" for k, v in sorted(target.defines.items())]
    elf = out / f"{name}.elf"
    port_support = [resources.crt() / "src" / "runtime" / "byte_ring.c"]  # what ports use beyond the library
    everything = [*pkg.sources, *port, *port_support, *target.extra_sources, *sources]
    includes = [f"-I{pkg.include}", f"-I{resources.crt() / 'include'}", f"-I{target.port_dir}"]
    _run([target.cc, *target.cflags, *cflags, *defines, *includes, *map(str, everything), f"-L{out}",
          *target.ldflags, "-o", str(elf), "-lm"], f"building the {name} firmware for {target_name}")
    return elf


def build_standalone(pkg: Package, target_name: str, inputs: list[np.ndarray], out: Path) -> Path:
    """Compile the package with the target port's platform and a main that runs it."""
    out.mkdir(parents=True, exist_ok=True)
    main = out / "standalone_main.c"
    main.write_text(main_source(pkg, inputs))
    return build_firmware(pkg, target_name, [main], out, "standalone")


def run_standalone(elf: Path, target_name: str, timeout: float = 60.0) -> list[bytes]:
    """Run the firmware (a process, or QEMU for a board) until it reports; the outputs' bytes."""
    target = get_target(target_name)
    if target.process is None or "semihosting" in target.features:
        raise UtvmError(f"standalone firmware reports over the UART or stdio; {target_name} cannot run "
                        "it here")
    argv = target.process(str(elf))
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)
    assert proc.stdout is not None
    got, deadline = b"", time.monotonic() + timeout * target.timeout_multiplier
    try:
        while not _DONE.search(got):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(remaining, 0))
            if not ready:
                raise InfrastructureError(f"standalone firmware on {target_name} reported nothing in time: "
                                          f"{got[-300:]!r}")
            chunk = proc.stdout.read1(4096)
            if not chunk:
                break
            got += chunk
    finally:
        proc.kill()
        proc.wait()
    done = _DONE.search(got)
    if done is None or done.group(1) != b"ok":
        raise UtvmError(f"standalone firmware on {target_name} failed: "
                        f"{done.group(1).decode(errors='replace') if done else got[-300:]!r}")
    return [bytes.fromhex(m.group(2).decode()) for m in _OUTPUT.finditer(got)]

