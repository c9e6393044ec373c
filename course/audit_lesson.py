"""Lesson 10, "Audit a kernel you did not write": the audit ladder on the kernels of
course/audit/examples/ -- the lint at realistic launches, the offset arithmetic, the GPU proof (live
on a GPU, recorded for the CPU tier) and the proof that the fixes are right.

The lint itself is course.audit (docs/audit.md); this module only runs it the way the lesson shows
it: from the repository root, so that the paths it prints are the repository's.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import subprocess
import sys

from kernels import tier  # first: it chooses the tier before triton is imported anywhere

from .audit import Launch, audit_source  # noqa: E402
from .audit.cli import load_config, main as _lint_main  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = "course/audit/examples"
BOUNDS = f"{EXAMPLES}/bounds.toml"
# written on the H200 by `python -m course.audit.examples.prove results/gpu/h200`; read here by path
RECORDING = pathlib.Path("results/gpu/h200/audit_examples.json")
PROVE = "python -m course.audit.examples.prove"


@contextlib.contextmanager
def _at_root():
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(here)


def lint(*argv: str) -> int:
    """Run `python -m course lint ARGV...` from the repository root; print what it prints and its
    exit status (1: something wraps)."""
    out, err = io.StringIO(), io.StringIO()
    with _at_root(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = _lint_main(list(argv))
    print((out.getvalue() + err.getvalue()).rstrip())
    print(f"exit status {status}")
    return status


def example_source(name: str) -> str:
    """The text of course/audit/examples/<name>.py (what the lint reads)."""
    return (ROOT / EXAMPLES / f"{name}.py").read_text()


def realistic_launch(kernel: str) -> Launch:
    """The realistic launch of `kernel` in bounds.toml (defaults merged)."""
    defaults, per = load_config(str(ROOT / BOUNDS))
    return defaults.merged(per[kernel])


def verdicts(source: str, kernel: str, launch: Launch | None = None, path: str = "<lesson>",
             include_all: bool = False) -> dict:
    """{verdict: [(line, expression, detail)]} of the lint for one kernel of `source`, at `launch`
    (default: its realistic launch in bounds.toml); include_all adds the int64 sites ("int64")."""
    launch = launch or realistic_launch(kernel)
    out: dict = {"wraps": [], "safe": [], "unknown": []}
    for k in audit_source(source, path, launch=launch, kernels={kernel}, include_all=include_all):
        if k.error:
            raise RuntimeError(f"the lint could not analyse {kernel}: {k.error}")
        for f in k.findings:
            if f.verdict not in ("wraps", "safe", "unknown"):
                detail = f"cast {f.cast}"
            elif f.verdict == "unknown":
                detail = f.reason
            elif f.verdict == "safe":
                detail = f"largest {f.max:,}"
            elif f.first_wrap and not f.first_wrap.get("note"):
                detail = f"first wraps at {f.first_wrap['name']} = {f.first_wrap['value']:,}"
            else:
                detail = f"reaches {f.max:,} whatever the size"
            out.setdefault(f.verdict, []).append((f.line, f.expr, detail))
    return out


# ---------------------------------------------------------------- the GPU rung

def show_recording() -> dict | None:
    """The proof recorded on a GPU by `python -m course.audit.examples.prove`, or a clear
    "not recorded yet" (never anything made up)."""
    path = ROOT / RECORDING
    if not path.exists():
        print(f"not recorded yet: {RECORDING} is missing. It is written on a CUDA machine by\n"
              f"    {PROVE} {RECORDING.parent}")
        return None
    try:
        rec = json.loads(path.read_text())
        if not isinstance(rec, dict):
            raise ValueError("not a JSON object")
    except (ValueError, OSError) as e:
        print(f"the recording {RECORDING} could not be read: {e}")
        return None
    head = ", ".join(f"{k} {rec[k]}" for k in ("torch", "triton") if k in rec)
    print(f"[recorded GPU run] {rec.get('device', 'unknown device')}"
          + (f", {rec['date']}" if "date" in rec else "") + (f", {head}" if head else ""))
    print(f"command: {rec.get('command', f'{PROVE} {RECORDING.parent}')}")
    print(f"{'kernel':<24} {'size':>10}  {'audit says':<13} outcome")
    for c in rec.get("cases", []):
        print(f"{c.get('kernel', '?'):<24} {c.get('size', 0):>10,}  {c.get('audit', '?'):<13} {case_outcome(c)}")
    return rec


def case_outcome(c: dict) -> str:
    """One launch of the proof in words: correct, wrong, or how it failed."""
    if not c.get("completed"):
        return f"FAILED: {c.get('error', 'no detail')}"[:160]
    err = c.get("max_abs_err")
    return ("completed, first and last rows equal the reference" if c.get("correct")
            else "completed, WRONG first/last rows") + (f" (max error {err:.2g})" if err is not None else "")


def gpu_memory_gib() -> float:
    import torch
    return torch.cuda.get_device_properties(0).total_memory / 2**30 if torch.cuda.is_available() else 0.0


LIVE_GIB = 24     # the softmax at its first wrapping size holds about 13 GB of tensors


def gpu_rung() -> None:
    """Rung 3 of the ladder: live on a GPU with room for it, else the recording."""
    if on_gpu() and gpu_memory_gib() >= LIVE_GIB:
        live_proof(debug=True)
        return
    if on_gpu():
        print(f"this GPU has {gpu_memory_gib():.0f} GiB; the live run needs about {LIVE_GIB} GiB -- "
              "showing the recorded run instead")
    else:
        print(f"needs a GPU — showing a recorded run instead ({PROVE}, at the sizes the audit names).")
        print(f"this machine: {tier.describe()}")
    show_recording()


def live_proof(debug: bool = True, timeout: int = 300, size: int | None = None) -> list[dict]:
    """The softmax kernel as found at its first wrapping size (or `size` rows), with TRITON_DEBUG=1
    when `debug` (Triton's overflow checks; a GPU compile honours it, the interpreter does not), and
    the fixed one at the same size, each in a child process (an illegal memory access poisons the
    CUDA context of the process that makes it)."""
    from .audit.examples.prove import audit_thresholds
    first = size or audit_thresholds()["softmax_rows"][1]
    out = []
    for kernel, env in (("softmax_rows", {"TRITON_DEBUG": "1"} if debug else {}), ("softmax_rows_fixed", {})):
        cmd = [sys.executable, "-m", "course.audit.examples.prove", "--case", kernel, "--size", str(first)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                               env={**os.environ, **env})
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            c = json.loads(lines[-1]) if p.returncode == 0 and lines else {
                "kernel": kernel, "size": first, "completed": False,
                "error": " | ".join([ln for ln in (p.stderr or p.stdout).splitlines()
                                     if "overflow" in ln or "Error" in ln][:2]) or f"exit {p.returncode}"}
        except subprocess.TimeoutExpired:
            c = {"kernel": kernel, "size": first, "completed": False, "error": f"timeout {timeout} s"}
        env_s = " ".join(f"{k}={v}" for k, v in env.items())
        print(f"{(env_s + ' ') if env_s else ''}{kernel} at M = {first:,}: {case_outcome(c)}")
        out.append(c)
    return out


def on_gpu() -> bool:
    return not tier.INTERPRETED
