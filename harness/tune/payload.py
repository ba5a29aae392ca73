"""What a `utvm tune-worker` accepts from the network, checked before anything is built.

A tuner sends an uncompressed tar of kernel C files (`cand<N>_<task>.c`, `ref_<task>.c`) and the
tasks' arguments (`args_<task>.npz`). The C is compiled into firmware whose memory can be read
back, so it may include only the runtime's own headers (crt/include) and the standard C headers
TVM's kernels use; every other way to pull a file into the build is refused: other or computed
includes, `#include_next`/`#embed`/`#import`, `__has_include`, `_Pragma`, inline assembly
(`.incbin`), trigraphs. Sizes are bounded. A refusal is one line (PayloadRefused) and nothing
is built or measured.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness import resources
from harness.errors import UtvmError, last_line

MAX_PAYLOAD_BYTES = 64 << 20  # the whole tar: a batch of candidates and its tasks' arguments
MAX_FILE_BYTES = 16 << 20
MAX_FILES = 1024
NAME = re.compile(r"(cand\d+|ref)_[A-Za-z0-9]+\.c|args_[A-Za-z0-9]+\.npz")
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
TASK = re.compile(r"[A-Za-z0-9]{1,64}")  # a task key: the hex hash of its workload, may start with a digit
# The standard headers TVM's C kernels (and the micro-kernels' header) include.
STANDARD_HEADERS = frozenset({"stdint.h", "stddef.h", "stdbool.h", "string.h", "math.h", "float.h",
                              "limits.h", "inttypes.h", "stdarg.h"})
DIRECTIVES = frozenset({"include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif"})
FORBIDDEN_WORDS = frozenset({"__has_include", "__has_include_next", "__has_include__", "__has_include_next__",
                             "__has_embed", "_Pragma", "asm", "__asm", "__asm__", "incbin"})
_SPLICE = re.compile(r"\\[ \t\f\v]*\n")
_TRIGRAPH = re.compile(r"\?\?[=/'()!<>\-]")
_DIRECTIVE = re.compile(r"[ \t\f\v]*(?:#|%:)[ \t\f\v]*(\w*)(.*)")
_INCLUDE = re.compile(r'\s*(?:"([^"\n]+)"|<([^>\n]+)>)\s*')
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PayloadRefused(UtvmError):
    """A tuner's payload that the worker will not build: the reason, in one line."""


@dataclass(frozen=True)
class Payload:
    """A checked payload: file name -> bytes."""

    files: dict[str, bytes]

    def write(self, where: Path) -> list[Path]:
        """The files in `where` (created); returns the C files."""
        where.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (where / name).write_bytes(data)
        return sorted(where / n for n in self.files if n.endswith(".c"))


def runtime_headers() -> frozenset[str]:
    """The runtime's own headers, as an #include names them (e.g. "utvm/dsp.h")."""
    root = resources.crt() / "include"
    return frozenset(p.relative_to(root).as_posix() for p in root.rglob("*.h"))


def unpack(payload: bytes) -> Payload:
    """The payload's files, each checked; PayloadRefused on the first thing not allowed."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadRefused(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES} byte limit")
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:  # uncompressed only: no bombs
            files = _members(tar)
    except (tarfile.TarError, EOFError) as exc:
        raise PayloadRefused(f"payload is not an uncompressed tar: {last_line(exc)}") from None
    if not any(n.endswith(".c") for n in files):
        raise PayloadRefused("payload has no kernel C file")
    return Payload(files)


def _members(tar: tarfile.TarFile) -> dict[str, bytes]:
    members = tar.getmembers()
    if len(members) > MAX_FILES:
        raise PayloadRefused(f"payload has {len(members)} files (at most {MAX_FILES})")
    files: dict[str, bytes] = {}
    headers = runtime_headers()
    for m in members:
        if not m.isreg() or not NAME.fullmatch(m.name) or m.name in files:
            raise PayloadRefused(f"payload file {m.name!r} is not a kernel's C file or a task's arguments")
        if m.size > MAX_FILE_BYTES:
            raise PayloadRefused(f"payload file {m.name} has {m.size} bytes (at most {MAX_FILE_BYTES})")
        f = tar.extractfile(m)
        data = f.read() if f is not None else b""
        (check_c if m.name.endswith(".c") else check_npz)(m.name, data, headers)
        files[m.name] = data
    return files


def check_npz(name: str, data: bytes, headers: frozenset[str] = frozenset()) -> None:
    """An uncompressed-size-bounded zip of plain .npy arrays (np.load refuses pickles)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PayloadRefused(f"payload file {name} is not an npz archive: {exc}") from None
    total = sum(i.file_size for i in infos)
    if total > MAX_FILE_BYTES or any(not re.fullmatch(r"arr_\d+\.npy", i.filename) for i in infos):
        raise PayloadRefused(f"payload file {name}: arrays must be arr_N.npy of at most {MAX_FILE_BYTES} "
                             "bytes in all")


def check_c(name: str, data: bytes, headers: frozenset[str]) -> None:
    """C that pulls in nothing but the allowed headers. Lines are split and spliced as the compiler
    splits them (CR, LF or CRLF; a backslash, blanks, newline), comments dropped, then each directive
    checked; words that make a file's bytes part of the output are refused wherever they are."""
    try:
        text = data.decode("ascii")  # TVM's C is ASCII: no BOM, Unicode blanks or the like to hide in
    except UnicodeDecodeError:
        raise PayloadRefused(f"payload file {name} is not ASCII text") from None
    text = _SPLICE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if "\0" in text or _TRIGRAPH.search(text) or "incbin" in text:
        raise PayloadRefused(f"payload file {name} has NUL bytes, trigraphs or .incbin")
    code = strip_comments(text, name)
    for line in code.split("\n"):
        m = _DIRECTIVE.fullmatch(line)
        if m:
            _check_directive(name, m.group(1), m.group(2), headers)
    bare = blank_literals(code)
    if "##" in bare or "%:%:" in bare:  # pasting could spell a forbidden word (__as ## m__)
        raise PayloadRefused(f"payload file {name} pastes tokens (##), which a kernel does not need")
    words = set(_WORD.findall(bare)) & FORBIDDEN_WORDS
    if words:
        raise PayloadRefused(f"payload file {name} uses {sorted(words)[0]} (not allowed in a kernel)")


def _check_directive(name: str, directive: str, rest: str, headers: frozenset[str]) -> None:
    if directive and directive not in DIRECTIVES:
        raise PayloadRefused(f"payload file {name}: #{directive} is not allowed in a kernel")
    if directive != "include":
        return
    m = _INCLUDE.fullmatch(rest)
    if not m:
        raise PayloadRefused(f"payload file {name}: #include{rest} is not a plain \"header\" or <header>")
    header = m.group(1) or m.group(2)
    path = PurePosixPath(header)
    allowed = headers | STANDARD_HEADERS
    if path.is_absolute() or ".." in path.parts or "\\" in header or header not in allowed:
        raise PayloadRefused(f"payload file {name} includes {header!r}: only the runtime's headers "
                             "(crt/include) and standard C headers are allowed")


def strip_comments(text: str, name: str) -> str:
    """`text` with each comment replaced by a space (newlines kept), literals untouched."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = _literal_end(text, i, name)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise PayloadRefused(f"payload file {name} has an unterminated comment")
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blank_literals(code: str) -> str:
    """Comment-free code with string and character literals emptied (their words are not code)."""
    out, i = [], 0
    while i < len(code):
        if code[i] in "\"'":
            j = _literal_end(code, i, "")
            out.append(code[i] * 2)
            i = j
        else:
            out.append(code[i])
            i += 1
    return "".join(out)


def _literal_end(text: str, i: int, name: str) -> int:
    quote, j = text[i], i + 1
    while j < len(text) and text[j] != quote:
        if text[j] == "\n":
            raise PayloadRefused(f"payload file {name} has an unterminated literal")
        j += 2 if text[j] == "\\" else 1
    return j + 1


def check_artifacts(arts_json: str, payload: Payload) -> list[dict[str, str]]:
    """The tuner's list of candidates: kernel, reference and task names, and arguments in the payload."""
    try:
        arts = json.loads(arts_json)
        ok = isinstance(arts, list) and all(isinstance(a, dict) for a in arts)
    except ValueError:
        ok = False
    if not ok:
        raise PayloadRefused("candidate list is not a JSON list of objects")
    for a in arts:
        symbols, task = [a.get(k) for k in ("kernel", "ref")], a.get("task")
        if not (all(isinstance(v, str) and SYMBOL.fullmatch(v) for v in symbols)
                and isinstance(task, str) and TASK.fullmatch(task)):
            raise PayloadRefused(f"candidate {str(a)[:80]!r} does not name its kernel, reference and task")
        if Path(str(a.get("args", ""))).name not in payload.files:
            raise PayloadRefused(f"candidate {a['kernel']}: its arguments are not in the payload")
        if a.get("ref_args") and Path(str(a["ref_args"])).name not in payload.files:
            raise PayloadRefused(f"candidate {a['kernel']}: its reference's arguments are not in the payload")
    return arts
