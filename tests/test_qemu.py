"""What is particular to the QEMU boards: the UART receive ring, on-device
timing from the board's timer, image footprint, the board registry, and the
semihosting console's end of stream."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.build import Manifest
from harness.build.footprint import RUNTIME_COMPONENTS, runtime_use
from harness.device import Device
from harness.errors import UtvmError
from harness.rpc import RPCClient
from harness.rpc import codec as c
from harness.targets import get_target
from harness.targets.qemu import boards, load_boards, qemu_argv
from tests.conftest import KERNELS, QEMU_TARGETS, REPO_ROOT, build_image

UART_TARGETS = [n for n in QEMU_TARGETS if "uart" in get_target(n).features]
MMIO_KERNELS = REPO_ROOT / "crt" / "tests" / "mmio_kernels.c"


@pytest.fixture(params=QEMU_TARGETS)
def board_image(request: pytest.FixtureRequest) -> Manifest:
    return build_image(request.param, [KERNELS / "handwritten.c"])


@pytest.fixture(params=UART_TARGETS)
def uart_device(request: pytest.FixtureRequest, tmp_path: Path):
    dev = Device(build_image(request.param, [KERNELS / "handwritten.c"]), workdir=tmp_path)
    dev.start()
    yield dev
    dev.stop()


def _read_reply(session) -> c.Reader:
    (n,) = struct.unpack("<Q", session.recv_exact(8))
    return c.Reader(session.recv_exact(n))


def test_uart_ring_holds_a_max_size_packet_sent_while_the_runtime_is_busy(uart_device: Device) -> None:
    """The second packet (every byte escaped) is sent while a kernel runs; nothing is lost.

    QEMU's UART model holds input back while its receive register is full, so
    emulation alone cannot overrun the ring; what is checked here is that the
    ring is sized for a worst-case frame, is interrupt driven, and lost nothing.
    """
    client, session = uart_device.client, uart_device.session
    assert client and session
    busy, echo = client.get_function("busy"), client.get_function("utvm.testing.echo")
    payload = b"\xff" * (client.max_packet_size - 64)  # 0xFF is the escape byte: the frame doubles
    first = c.packet(c.CALL_FUNC, struct.pack("<Q", busy.handle) + c.encode_args((40_000_000,)))  # ~0.5 s
    second = c.packet(c.CALL_FUNC, struct.pack("<Q", echo.handle) + c.encode_args((payload,)))
    session.send(first + second)  # one write: the device is busy while the second streams in
    for _ in range(2):
        reply = _read_reply(session)
        assert reply.unpack("<i") == (c.RETURN,)
        value = reply.values()[1]
    assert value == payload
    port = client.stats()["port"]
    assert port["rx_overruns"] == 0 and port["hw_overruns"] == 0
    assert port["rx_ring_size"] >= 2 * (client.max_packet_size + 8 + 3) + 8, "ring below a worst-case frame"
    assert 0 < port["rx_high_water"] <= port["rx_ring_size"]
    assert port["rx_irqs"] > 0, "receive is not interrupt driven"


def _measure(client: RPCClient, n: int, repeat: int = 3) -> list[float]:
    with client.system_lib().time_evaluator("busy", number=1, repeat=repeat) as evaluator:
        return evaluator(n)


@pytest.mark.parametrize("target", UART_TARGETS)
def test_time_evaluator_is_linear_and_deterministic(target: str, tmp_path: Path) -> None:
    """Twice the work measures twice the time within 1%, and repeats of it agree."""
    with Device(build_image(target, [KERNELS / "handwritten.c"]), workdir=tmp_path) as client:
        one, two = _measure(client, 400_000), _measure(client, 800_000)
    for times in (one, two):
        assert max(times) / min(times) < 1.001, f"emulated time is not deterministic: {times}"
    ratio = np.median(two) / np.median(one)
    assert abs(ratio - 2.0) < 0.02, f"busy(2n)/busy(n) = {ratio:.4f}"


FPGAIO_TARGETS = [n for n in UART_TARGETS if "timer-fpgaio" in get_target(n).features]


@pytest.mark.parametrize("target", FPGAIO_TARGETS)
def test_clock_runs_on_across_its_counter_wrap(target: str, tmp_path: Path) -> None:
    """The FPGA counter is 32 bits (171 s at 25 MHz); the clock extends it with the 1 Hz counter,
    without an interrupt. Wound to a quarter second before the wrap, repeats of a tenth of a
    second that cross it measure what they measured before, to a cycle."""
    board = boards()[target]
    hz, base = board.timer.hz, board.timer.base
    with Device(build_image(target, [KERNELS / "handwritten.c", MMIO_KERNELS]), workdir=tmp_path) as client:
        peek, poke = client.get_function("peek"), client.get_function("poke")
        per_iteration = min(_measure(client, 100_000)) * hz / 100_000
        n = int(0.1 * hz / per_iteration)
        before = [t * hz for t in _measure(client, n, repeat=4)]
        start = 2**32 - hz // 4
        poke(base + 0x18, start)  # COUNTER, then CLK1HZ to the same moment
        poke(base + 0x10, start // hz)
        across = [t * hz for t in _measure(client, n, repeat=6)]
        count = peek(base + 0x18)
    assert count < start, f"the counter did not wrap ({count:#x})"
    cycles = before + across
    spread = max(cycles) - min(cycles)
    assert spread <= 1.01, f"repeats differ by {spread:.3f} cycles: {cycles}"


def test_footprint_split_and_runtime_budget(board_image: Manifest) -> None:
    fp, size = board_image.footprint, board_image.size
    flash, ram = fp["flash"], fp["ram"]
    assert set(RUNTIME_COMPONENTS) <= set(flash), flash
    assert {"kernels", "port", "libc/libgcc"} <= set(flash), flash
    assert abs(sum(flash.values()) - (size["text"] + size["data"])) <= 8, "map and ELF disagree"
    assert abs(sum(ram.values()) - (size["data"] + size["bss"])) <= 8, "map and ELF disagree"
    assert "link buffers" in ram, ram
    runtime_flash, runtime_ram = runtime_use(fp, board_image.target.defines)
    assert runtime_flash <= 16 * 1024, f"runtime + RPC + link use {runtime_flash} B of flash"
    assert runtime_ram <= 4 * 1024, f"runtime + RPC + link use {runtime_ram} B of RAM"


def test_board_registry_describes_each_board() -> None:
    assert {"qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505",
            "qemu-mps3-an547"} <= set(boards())
    for board in boards().values():
        target = get_target(board.name)
        assert f"-mcpu={board.cpu}" in target.cflags
        assert "FLASH" in target.link_files["memory.ld"] and "uart" in target.features
    assert "fpu" in get_target("qemu-mps2-an386").features
    assert "fpu" not in get_target("qemu-mps2-an385").features


@pytest.mark.parametrize(("text", "message"), [
    ("[boards.x]\nmachine = 'm'\n", "board 'x' is malformed"),
    ("[boards.x\n", "cannot read board registry"),
])
def test_board_registry_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "boards.toml"
    path.write_text(text)
    with pytest.raises(UtvmError, match=message):
        load_boards(path)


def test_semihosting_firmware_stops_when_the_host_closes_the_console() -> None:
    image = build_image("qemu-mps2-an385-semihosting", [KERNELS / "handwritten.c"])
    argv = qemu_argv(boards()["qemu-mps2-an385"], "semihosting", image.artifact)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    time.sleep(0.2)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert b"\xff\xfd" in proc.stdout.read()  # it had announced itself before


def _running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except OSError:
        return False


def test_killed_owner_leaves_no_qemu_behind(tmp_path: Path) -> None:
    """SIGKILL the process that started a board: its QEMU must go too (no stray emulators)."""
    image = build_image("qemu-mps2-an385", [KERNELS / "handwritten.c"])
    script = tmp_path / "owner.py"
    script.write_text(
        "import time\nfrom harness.build.image import Manifest\nfrom harness.device import Device\n"
        f"dev = Device(Manifest.load({str(Path(image.artifact).parent / 'manifest.json')!r}))\n"
        "dev.start()\nprint(dev.transport.proc.pid, flush=True)\ntime.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    qemu_pid = int(owner.stdout.readline())
    assert _running(qemu_pid)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(qemu_pid):
        time.sleep(0.05)
    assert not _running(qemu_pid), "QEMU outlived the process that started it"
