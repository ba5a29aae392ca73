"""Board leases: exclusive while held and renewed; a SIGKILLed holder's lease lapses."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from utvm_ci.lab.lease import Lease, LeaseBusy


def test_exclusive_renewed_and_released(tmp_path: Path) -> None:
    with Lease(tmp_path, "m3-a", ttl=0.6) as mine:
        with pytest.raises(LeaseBusy, match="m3-a is leased by"):
            Lease(tmp_path, "m3-a", ttl=0.6).acquire()
        time.sleep(1.0)  # longer than the ttl: only renewal keeps it
        assert mine.holder() is not None and mine.holder().owner == mine.owner
        with Lease(tmp_path, "m3-b", ttl=0.6):  # other boards are independent
            pass
    other = Lease(tmp_path, "m3-a", ttl=0.6).acquire()  # released: free at once
    other.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom utvm_ci.lab.lease import Lease\n"
        f"Lease(Path({str(tmp_path)!r}), 'm3-a', ttl=1.0).acquire()\nprint('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(LeaseBusy):
        Lease(tmp_path, "m3-a").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            Lease(tmp_path, "m3-a").acquire().release()
            break
        except LeaseBusy:
            assert time.monotonic() < deadline, "the lease of a killed runner never lapsed"
            time.sleep(0.1)
