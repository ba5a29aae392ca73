"""`utvm validate`: the conformance suite on one board, and a bundle a vendor can hand over.

A bundle is a directory:
    conformance.json  run id, board, target, firmware sha256, toolchain, QEMU/TVM
                      versions, suite version, counts, verdict, per-test results, and
                      per model of the model tier: agreement with the model's own runtime
                      (max LSB, top-1) and cycles per inference, flash and RAM
    junit.xml         the same results for CI tools
    report.html       for people
    MANIFEST.json     sha256 of each file and a digest over them (an HMAC-SHA256 when a
                      key is given), so `utvm validate --verify BUNDLE` tells whether
                      anything was altered, added or removed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import platform
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from html import escape
from importlib import metadata
from pathlib import Path

from harness import resources
from harness.testing.report import PASSES, Outcome, TestResult
from harness.testing.suite import command_version
from utvm_ci import suite
from utvm_ci.night import shard

MANIFEST = "MANIFEST.json"
FILES = ("conformance.json", "junit.xml", "report.html")
TEST_FIELDS = ("nodeid", "outcome", "duration", "retries", "error_class", "message")
MODEL_FIGURES = ("max_diff_lsb", "top1_agree", "inputs", "cycles", "instructions", "seconds", "flash_bytes",
                 "ram_bytes", "outputs_sha256", "model_sha256")


def suite_version() -> str:
    """A hash of the suite's sources: two bundles with the same one ran the same tests."""
    h = hashlib.sha256()
    for path in sorted(suite.SUITE.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".c", ".h"):
            h.update(str(path.relative_to(suite.SUITE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _qemu_version() -> str:
    if shutil.which("qemu-system-arm") is None:
        return "not installed"
    return command_version(("qemu-system-arm", "--version"))


def run(where: shard.Where, board: str, out: Path, cache: Path, key: bytes | None = None,
        models: Sequence[Path] = ()) -> dict:
    """Run the suite (and the model tier with these models) on the board and write the bundle;
    returns conformance.json's content."""
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    work = out.parent / f".{out.name}-run"
    ids = shard.collect(where, cache, models=models)
    result = shard.run(where, ids, work, cache, models=models)
    tests = sorted(result.tests.values(), key=lambda t: t.nodeid)
    counts = Counter(t.outcome for t in tests)
    verdict = "conformant" if not (counts[Outcome.FAILED] or counts[Outcome.ERROR]) else \
        "not conformant" if counts[Outcome.FAILED] else "incomplete (infrastructure errors)"
    doc = {
        "run_id": run_id, "board": board, "target": where.target, "verdict": verdict,
        "firmware_sha256": result.facts.get("image_sha256", ""),
        "toolchain": result.facts.get("toolchain", ""),
        "features": result.facts.get("features", ""), "qemu": _qemu_version(), "tvm": _version("apache-tvm"),
        "utvm": _version("utvm"), "revision": result.facts.get("revision", ""),
        "suite_version": suite_version(),
        "python": platform.python_version(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": {o: counts[o] for o in Outcome},
        "tests": [{k: getattr(t, k) for k in TEST_FIELDS} for t in tests],
        "models": model_section(tests),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "conformance.json").write_text(json.dumps(doc, indent=2) + "\n")
    junit = work / f"junit-{where.target}.xml"
    (out / "junit.xml").write_bytes(junit.read_bytes() if junit.exists() else b"")
    (out / "report.html").write_text(_html(doc))
    seal(out, key)
    shutil.rmtree(work, ignore_errors=True)
    return doc


def model_section(tests: list[TestResult]) -> list[dict]:
    """Per model of the model tier: its outcome, whether its outputs agreed with its own runtime
    (within 1 LSB, top-1 on every input), and what it cost on the board."""
    out = []
    for t in tests:
        if "model" not in t.figures:
            continue
        f = t.figures
        agrees = t.outcome in PASSES and "max_diff_lsb" in f
        out.append({"model": f["model"], "nodeid": t.nodeid, "outcome": t.outcome,
                    "outputs_agree": agrees, "message": t.message,
                    **{k: f[k] for k in MODEL_FIGURES if k in f}})
    return sorted(out, key=lambda m: str(m["model"]))


def _digest(files: dict[str, str], key: bytes | None) -> str:
    canonical = json.dumps(files, sort_keys=True).encode()
    if key:
        return "hmac-sha256:" + hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def seal(bundle: Path, key: bytes | None = None) -> None:
    files = {name: hashlib.sha256((bundle / name).read_bytes()).hexdigest() for name in FILES}
    manifest = {"files": files, "digest": _digest(files, key)}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def verify(bundle: Path, key: bytes | None = None) -> list[str]:
    """What is wrong with the bundle; empty when it is as written."""
    try:
        manifest = json.loads((bundle / MANIFEST).read_text())
        files, digest = dict(manifest["files"]), str(manifest["digest"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"no readable {MANIFEST}: {exc}"]
    problems = []
    if set(files) != set(FILES):
        problems.append(f"the manifest lists {sorted(files)}, not {sorted(FILES)}")
    for name, expected in files.items():
        path = bundle / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            problems.append(f"{name} was altered")
    extra = sorted(p.name for p in bundle.iterdir() if p.name not in (*FILES, MANIFEST))
    if extra:
        problems.append(f"files not in the bundle: {', '.join(extra)}")
    if digest.startswith("hmac-sha256:") and not key:
        problems.append("the bundle is signed with a key: give --key to verify it")
    elif not hmac.compare_digest(digest, _digest(files, key)):
        problems.append("the manifest's digest does not match (the manifest was edited, or the key differs)")
    return problems


def _html(doc: dict) -> str:
    rows = "".join(f'<tr class="{escape(t["outcome"])}"><td>{escape(t["nodeid"])}</td>'
                   f'<td>{escape(t["outcome"])}</td><td>{t["duration"] or 0:.2f}</td>'
                   f'<td>{escape(str(t["message"] or ""))[:300]}</td></tr>' for t in doc["tests"])
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(doc[k]))}</td></tr>" for k in
                    ("board", "target", "verdict", "run_id", "date", "firmware_sha256", "toolchain", "qemu",
                     "tvm", "utvm", "revision", "suite_version", "features"))
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in doc["counts"].items())
    head = "".join(f"<th>{k}</th>" for k in ("model", "outcome", "outputs agree", *MODEL_FIGURES[:8]))
    models = "".join(f'<tr><td>{escape(str(m["model"]))}</td><td>{escape(m["outcome"])}</td>'
                     f'<td>{"yes" if m["outputs_agree"] else "NO"}</td>'
                     + "".join(f"<td>{escape(str(m.get(k, '')))}</td>" for k in MODEL_FIGURES[:8]) + "</tr>"
                     for m in doc.get("models", []))
    models_html = f"<h2>Models</h2><table><tr>{head}</tr>{models}</table>" if models else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>utvm conformance: '
            f'{escape(doc["board"])}</title><style>body{{font:14px system-ui,sans-serif;margin:24px}}'
            "td,th{padding:2px 8px;text-align:left}tr.failed{background:#fbe3e3}tr.error{background:#fcefdc}"
            f"</style></head><body><h1>utvm conformance: {escape(doc['board'])}: "
            f"{escape(doc['verdict'])}</h1>"
            f"<p>{counts}</p><table>{facts}</table>{models_html}<h2>Tests</h2><table><tr><th>test</th><th>outcome</th>"
            f"<th>s</th><th>message</th></tr>{rows}</table></body></html>\n")


def default_cache() -> Path:
    return resources.cache_dir()
