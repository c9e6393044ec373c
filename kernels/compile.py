"""Compile every course kernel, in every mode, for GPUs you do not have (no GPU needed).

``triton.compile(ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", cap, 32))``
runs Triton's whole pipeline (TTIR, TTGIR, LLVM IR, PTX, and ptxas to a cubin) for any NVIDIA
target on a CPU-only machine. This module does that for both kernels, every mode a launcher can ask
for (int32/int64 offsets; fp32/UE8M0 scales; both packed grids; bf16 and fp16 input) and the fp8
path the launcher would pick on that target (kernels.fp8), with the fixed (CPU-tier) tile and the
argument specialisation Triton would give the demo shape (M = 524,416, N = 4,096).

``python -m kernels compile --arch 75 80 86 89 90 100`` prints the table and exits 1 if a target
that this Triton can compile for fails; CI (tests/test_compile.py) calls the same :func:`check`.
A target Triton itself cannot build (its probe kernel, which uses neither fp8 nor bf16, fails) is
reported as "unsupported by triton <version>" and skipped, not failed.

The interpreter replaces ``@triton.jit`` kernels with interpreted functions that cannot be
compiled, so on the CPU tier :func:`check` runs itself in a child process with
``TRITON_INTERPRET=0``.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import subprocess
import sys
import time

DEFAULT_ARCHS = (75, 80, 86, 89, 90, 100)
DEMO_M, DEMO_N = 524_416, 4_096          # the shape whose argument specialisation is compiled
DTYPES = {"bf16": "bf16", "fp16": "fp16"}
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class Row:
    kernel: str
    mode: str
    dtype: str
    arch: int
    path: str          # fp8 path compiled: "hardware" or "software"
    status: str        # "ok", "FAIL", or "unsupported" (Triton cannot target this arch at all)
    reason: str = ""
    seconds: float = 0.0


def _modes():
    """(kernel name, mode label, jit function, mode constexprs) for every mode a launcher can launch."""
    from .colmajor import silu_mul_fp8_colmajor_kernel
    from .packed import silu_mul_fp8_packed_kernel
    for index in ("int32", "int64"):
        for ue8m0 in (False, True):
            yield ("colmajor", f"{index} {'ue8m0' if ue8m0 else 'fp32'}-scales",
                   silu_mul_fp8_colmajor_kernel, dict(INDEX_64=index == "int64", USE_UE8M0=ue8m0))
    for index in ("int32", "int64"):
        for axis in (0, 1):
            yield ("packed", f"{index} rows-axis-{axis}", silu_mul_fp8_packed_kernel,
                   dict(INDEX_64=index == "int64", ROWS_ON_AXIS0=axis == 0))


def _launch_args(kernel: str, dtype: str, software: bool, m: int = DEMO_M, n: int = DEMO_N,
                 tile: dict | None = None, use_ue8m0: bool = False):
    """(runtime arg values by name, pointer types by name, constexprs, options) exactly as the
    launcher passes them for shape (m, n) (its own kernel_args), with `tile` (default: the fixed tile
    the CPU tier and the upstream variants use, kernels.tiles.CPU_TILES: a compile check, not a
    tuned launch). kernel: "colmajor" or "packed"."""
    from . import colmajor, packed, tiles
    q = "*u8" if software else "*fp8e4nv"
    t = tile or tiles.CPU_TILES[kernel]
    if kernel == "colmajor":
        gpp = math.gcd(n // 256, t["groups_per_program"])
        args = colmajor.kernel_args(m, n, eps=1e-10, index="int64", block_m=t["block_m"],
                                    groups=gpp, use_ue8m0=use_ue8m0)
        ptrs = dict(x_ptr=f"*{dtype}", q_ptr=q, s_ptr="*fp32")
    else:
        args = packed.kernel_args(m, n, index="int64", rows_axis=0, block_m=t["block_m"])
        ptrs = dict(x_ptr=f"*{dtype}", q_ptr=q, s_ptr="*i32")
    consts = {k: v for k, v in args.items() if k.isupper()}
    values = {k: v for k, v in args.items() if not k.isupper()}
    options = dict(num_warps=t["num_warps"], num_stages=t["num_stages"])
    return values, ptrs, consts, options


def _source(fn, values, ptrs, consts):
    """An ASTSource specialised as Triton's launcher would: 16-aligned pointers and ints divisible
    by 16 get tt.divisibility 16, an int equal to 1 becomes a constant (none here)."""
    from triton.compiler import ASTSource
    signature, attrs, constexprs = {}, {}, dict(consts)
    for i, name in enumerate(fn.arg_names):
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in ptrs:
            signature[name] = ptrs[name]
            attrs[(i,)] = [["tt.divisibility", 16]]
        elif isinstance(values[name], float):
            signature[name] = "fp32"
        else:
            v = values[name]
            signature[name] = "i32" if -2**31 <= v < 2**31 else "i64"
            if v % 16 == 0:
                attrs[(i,)] = [["tt.divisibility", 16]]
    return ASTSource(fn, signature, constexprs, attrs)


def disassemble(compiled) -> str:
    """The SASS of a compiled kernel, from the nvdisasm that ships with Triton (no GPU needed)."""
    import tempfile

    import triton
    nvdisasm = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "nvdisasm")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        return subprocess.run([nvdisasm, "-c", f.name], capture_output=True, text=True,
                              check=True).stdout


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split())
    # Triton's CompilationError puts the source excerpt first and the cause last
    cause = e.__cause__ or e.__context__
    if cause is not None and str(cause).strip():
        text = f"{type(cause).__name__}: {' '.join(str(cause).split())}"
    else:
        text = f"{type(e).__name__}: {text}"
    return text[:300]


class CompileFailed(RuntimeError):
    """Triton could not compile a kernel for a target; the message is the compiler's reason."""


def _compile(src, target, options=None):
    """triton.compile, with what Triton prints on a failure kept out of stdout and in the reason."""
    import triton
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            return triton.compile(src, target=target, options=options)
    except Exception as e:  # noqa: BLE001 -- any compiler failure is a result, with its reason
        fatal = [ln.strip() for ln in out.getvalue().splitlines() if "fatal" in ln or "error :" in ln]
        raise CompileFailed(fatal[0] if fatal else _reason(e)) from e


def _probe_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def probe(src, dst, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(dst + offs, tl.load(src + offs) * 2.0)
    return probe


def _compile_here(archs, dtypes, path: str) -> list[Row]:
    import triton
    from triton.backends.compiler import GPUTarget

    from . import fp8
    probe = _probe_kernel()
    rows = []
    for arch in archs:
        target = GPUTarget("cuda", arch, 32)
        try:
            from triton.compiler import ASTSource
            _compile(ASTSource(probe, {"src": "*fp32", "dst": "*fp32", "BLOCK": "constexpr"},
                               {"BLOCK": 128}), target)
            unsupported = None
        except CompileFailed as e:  # Triton cannot target this arch at all
            unsupported = f"triton {triton.__version__} cannot compile for sm_{arch}: {e}"
        # auto: what a launch on that GPU would pick; a forced path is compiled as asked, so that
        # the compiler (not kernels.fp8) says why the hardware path cannot build below sm_89
        chosen = fp8.choose(divmod(arch, 10), "auto")[0] if path == "auto" else path
        for kernel, mode, fn, mode_consts in _modes():
            for dtype in dtypes:
                if unsupported:
                    rows.append(Row(kernel, mode, dtype, arch, chosen, "unsupported", unsupported))
                    continue
                # a kernel without the flag (the course before kernels.fp8) has only the cast
                software = chosen == "software" and "SOFTWARE_FP8" in fn.arg_names
                values, ptrs, consts, options = _launch_args(kernel, dtype, software)
                consts.update(mode_consts)
                if "SOFTWARE_FP8" in fn.arg_names:
                    consts["SOFTWARE_FP8"] = software
                t0 = time.perf_counter()
                try:
                    _compile(_source(fn, values, ptrs, consts), target, options)
                    status, reason = "ok", ""
                except CompileFailed as e:  # the compiler's reason is the result
                    status, reason = "FAIL", str(e)
                rows.append(Row(kernel, mode, dtype, arch, chosen, status, reason,
                                round(time.perf_counter() - t0, 2)))
    return rows


def _can_compile_here() -> bool:
    from . import tier
    return not tier.INTERPRETED


def check(archs=DEFAULT_ARCHS, dtypes=tuple(DTYPES), path: str = "auto", jobs: int | None = None,
          timeout: float = 600.0) -> list[Row]:
    """Compile every kernel x mode x dtype for each target; one Row per compile.

    path: the fp8 path as KERNELS_FP8_PATH would choose it ("auto": hardware from sm_89, software
    below; "software": the integer encoder everywhere; "hardware": refused below sm_89, which then
    shows up as failed rows). jobs: child processes compiling targets in parallel (default: one per
    CPU core, at most one per target). In an interpreted process the compiles always run in
    children (TRITON_INTERPRET=0)."""
    archs, dtypes = [int(a) for a in archs], list(dtypes)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(archs)))
    if jobs == 1 and _can_compile_here():
        try:
            return _compile_here(archs, dtypes, path)
        except Exception as e:  # noqa: BLE001 -- e.g. fp8.Fp8PathError for path="hardware"
            return [Row("-", "-", "-", a, path, "FAIL", _reason(e)) for a in archs]
    env = dict(os.environ, TRITON_INTERPRET="0")
    env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
    children = []
    for part in (archs[i::jobs] for i in range(jobs)):
        cmd = [sys.executable, "-m", "kernels.compile", "--json", "--jobs", "1", "--path", path,
               "--dtype", *dtypes, "--arch", *map(str, part)]
        children.append((part, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                text=True, env=env, cwd=_ROOT)))
    rows = []
    for part, p in children:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = "", f"timed out after {timeout:.0f} s"
        lines = [ln for ln in out.splitlines() if ln.startswith("[{") or ln == "[]"]
        if lines:
            rows += [Row(**r) for r in json.loads(lines[-1])]
        else:
            tail = " | ".join((err or out).strip().splitlines()[-3:])
            rows += [Row("-", "-", "-", a, path, "FAIL", f"compile child failed: {tail}") for a in part]
    order = {a: i for i, a in enumerate(archs)}
    return sorted(rows, key=lambda r: order[r.arch])


def failures(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.status == "FAIL"]


def table(rows: list[Row]) -> str:
    archs = sorted({r.arch for r in rows})
    keys = list(dict.fromkeys((r.kernel, r.mode, r.dtype) for r in rows))
    cell = {(r.kernel, r.mode, r.dtype, r.arch): r for r in rows}
    width = 14
    head = f"{'kernel':<9} {'mode':<24} {'input':<5} " + " ".join(f"{'sm_' + str(a):<{width}}"
                                                                   for a in archs)
    out = [head, "-" * len(head)]
    notes: dict[str, int] = {}
    for k in keys:
        cells = []
        for a in archs:
            r = cell.get((*k, a))
            if r is None:
                cells.append("-")
            elif r.status == "ok":
                cells.append(f"ok ({'hw' if r.path == 'hardware' else 'sw'} fp8)")
            else:
                n = notes.setdefault(r.reason, len(notes) + 1)
                cells.append(f"{'FAIL' if r.status == 'FAIL' else 'skipped'} [{n}]")
        out.append(f"{k[0]:<9} {k[1]:<24} {k[2]:<5} " + " ".join(f"{c:<{width}}" for c in cells))
    out.append("hw fp8 = the GPU's fp32->e4m3 conversion; sw fp8 = kernels.fp8's integer encoder")
    for reason, n in notes.items():
        out.append(f"[{n}] {reason}")
    bad, skipped = failures(rows), [r for r in rows if r.status == "unsupported"]
    ok = sum(r.status == "ok" for r in rows)
    out.append(f"{ok} compiled, {len(bad)} failed, {len(skipped)} skipped (target unsupported by "
               f"this Triton) of {len(rows)}")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kernels compile", description=__doc__.split("\n")[0])
    ap.add_argument("--arch", type=int, nargs="+", default=list(DEFAULT_ARCHS),
                    help="compute capabilities as two digits, e.g. 75 80 86 89 90 100")
    ap.add_argument("--dtype", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    ap.add_argument("--path", choices=("auto", "hardware", "software"), default="auto",
                    help="fp8 conversion path (auto: hardware from sm_89, software below)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="parallel compile processes (default: one per CPU core)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    bad_arch = [x for x in a.arch if not 10 <= x <= 999]
    if bad_arch:
        ap.error(f"--arch takes compute capabilities as two or three digits (75 = sm_75), got {bad_arch}")
    rows = check(a.arch, a.dtype, a.path, a.jobs)
    if a.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows]))
    else:
        print(table(rows))
    return 1 if failures(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
