"""`utvm hil serve --at HH:MM`: the nightly as a long-running service.

Every day at the given local time: fetch the branch's latest commit into a
checkout of its own, run `utvm hil run` from that checkout (its runtime, its
suite), with the lab's state (history, leases) kept outside it, and the night's
reports in REPORT_DIR/<run>/ with REPORT_DIR/latest pointing at the newest.

Alternatives with the same effect (documented in docs/nightly.md): a crontab
line, or a GitHub Actions `schedule:` workflow on a self-hosted runner.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from harness import resources
from harness.errors import InfrastructureError, UtvmError
from utvm_ci.job import EXIT_INFRA
from utvm_ci.night.options import NightOptions


@dataclass(frozen=True)
class Schedule:
    hour: int
    minute: int
    second: int = 0

    @classmethod
    def parse(cls, text: str) -> Schedule:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
        if not m:
            raise UtvmError(f"--at {text!r}: expected HH:MM or HH:MM:SS")
        h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
        if h > 23 or mi > 59 or s > 59:
            raise UtvmError(f"--at {text!r}: not a time of day")
        return cls(h, mi, s)

    def next_after(self, now: dt.datetime) -> dt.datetime:
        at = now.replace(hour=self.hour, minute=self.minute, second=self.second, microsecond=0)
        return at if at > now else at + dt.timedelta(days=1)


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise InfrastructureError(f"git {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def update_checkout(remote: str, branch: str, checkout: Path) -> str:
    """The branch's latest commit, checked out (detached) in `checkout`; returns its hash."""
    if not (checkout / ".git").exists():
        checkout.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--quiet", "--no-checkout", remote, str(checkout))
    _git("fetch", "--quiet", remote, branch, cwd=checkout)
    _git("checkout", "--quiet", "--force", "--detach", "FETCH_HEAD", cwd=checkout)
    return _git("rev-parse", "HEAD", cwd=checkout)


def checkout_env(checkout: Path) -> dict[str, str]:
    """An environment in which this interpreter imports the checkout's code, not the installed one."""
    return {**os.environ, "PYTHONPATH": str(checkout)}


def run_night(options: NightOptions, checkout: Path, report_dir: Path) -> int:
    """`utvm hil run` with the checkout's code, on this interpreter's packages."""
    env = checkout_env(checkout)
    night = replace(options, report_dir=report_dir)
    cmd = [sys.executable, "-m", "harness.cli", "hil", "run", *night.argv()]
    return subprocess.run(cmd, cwd=checkout, env=env, check=False).returncode


def serve(schedule: Schedule, options: NightOptions, branch: str = "main", remote: str = "origin",
          checkout: Path | None = None, max_nights: int = 0) -> int:
    checkout = checkout or resources.work_root() / "hil-checkout"
    if remote == "origin":
        here = resources.source_checkout()
        if here is None:
            raise UtvmError("utvm is installed, not run from a checkout: give --remote (a URL or path)")
        remote = _git("remote", "get-url", "origin", cwd=here)
    options = replace(options, state=options.state.absolute())
    code, nights = 0, 0
    while not max_nights or nights < max_nights:
        at = schedule.next_after(dt.datetime.now())
        print(f"utvm hil serve: next night at {at:%Y-%m-%d %H:%M:%S} ({branch} of {remote})", flush=True)
        while (wait := (at - dt.datetime.now()).total_seconds()) > 0:
            time.sleep(min(wait, 60.0))
        report_dir = options.report_dir / at.strftime("%Y%m%d-%H%M%S")
        try:
            commit = update_checkout(remote, branch, checkout)
            print(f"utvm hil serve: night of {commit[:12]} -> {report_dir}", flush=True)
            code = run_night(options, checkout, report_dir)
        except InfrastructureError as exc:
            print(f"utvm hil serve: infrastructure error: {exc}", file=sys.stderr, flush=True)
            code = EXIT_INFRA
        latest = options.report_dir / "latest"
        if report_dir.exists():
            latest.unlink(missing_ok=True)
            latest.symlink_to(report_dir.name)
        nights += 1
    return code
