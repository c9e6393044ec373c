"""Lesson 09, performance: bytes moved, the roofline, recorded and live benchmarks, the block sweep.
"""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import torch

import kernels
from kernels import bench as _bench

from .kit import plural

H100_SXM_TBPS = 3.35  # NVIDIA H100 SXM datasheet HBM3 bandwidth (TB/s)


def bytes_moved(M: int, N: int, kernel: str = "colmajor") -> dict:
    """Bytes each launch must read and write (the floor any implementation pays): the benchmark's count."""
    return _bench.bytes_moved(kernel, M, N)


def roofline_us(total_bytes: int, tbps: float) -> float:
    return total_bytes / (tbps * 1e12) * 1e6


def bench_records(rec: dict | None) -> list[dict]:
    """Normalize a recorded bench file to [{"name","M","N","us","tbps"}]; tolerant of its schema.

    Accepts records as a list of dicts, or a dict name -> dict/number. Field aliases: time_us /
    us / ms (converted), TB/s / tbps / bandwidth_tbps; tbps is derived from "bytes" when missing.
    """
    if not rec:
        return []
    raw = rec.get("records", rec)
    if isinstance(raw, dict):
        raw = [({"name": k, **v} if isinstance(v, dict) else {"name": k, "us": v}) for k, v in raw.items()]
    out = []
    for r in raw if isinstance(raw, list) else []:
        if not isinstance(r, dict):
            continue
        us = r.get("us", r.get("time_us"))
        if us is None and r.get("ms") is not None:
            us = float(r["ms"]) * 1e3
        tbps = r.get("tbps", r.get("TB/s", r.get("bandwidth_tbps")))
        if tbps is None and us and r.get("bytes"):
            tbps = r["bytes"] / (float(us) * 1e-6) / 1e12
        out.append({**r, "name": str(r.get("name", r.get("what", "?"))), "M": r.get("M"),
                    "N": r.get("N"), "us": None if us is None else float(us),
                    "tbps": None if tbps is None else float(tbps)})
    return out


def bench_table(rows: list[dict]) -> str:
    lines = [f"{'what':<48} {'M':>9} {'N':>6} {'time (µs)':>11} {'TB/s':>6}"]
    for r in rows:
        m = f"{r['M']:,}" if isinstance(r.get("M"), int) else str(r.get("M", "-"))
        n = f"{r['N']:,}" if isinstance(r.get("N"), int) else str(r.get("N", "-"))
        us = f"{r['us']:,.1f}" if r.get("us") is not None else "-"
        tb = f"{r['tbps']:.2f}" if r.get("tbps") is not None else "-"
        lines.append(f"{r['name'][:48]:<48} {m:>9} {n:>6} {us:>11} {tb:>6}")
    return "\n".join(lines)


def plot_bench(rows: list[dict], device: str = "", peak_tbps: float | None = None):
    """Horizontal bar chart of TB/s, one bar per measurement, labelled with its shape."""
    rows = [r for r in rows if r.get("tbps") is not None]
    rows = sorted(rows, key=lambda r: r["tbps"])
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(rows), 2) + 1.2))
    labels = [f"{r['name']}  (M={r['M']:,})" if isinstance(r.get("M"), int) else r["name"] for r in rows]
    colors = ["#999999" if "copy" in r["name"].lower() else
              "#c44e52" if ("eager" in r["name"].lower() or "compile" in r["name"].lower()) else
              "#4c72b0" for r in rows]
    ax.barh(range(len(rows)), [r["tbps"] for r in rows], color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    for i, r in enumerate(rows):
        ax.text(r["tbps"], i, f" {r['tbps']:.2f}", va="center", fontsize=8)
    if peak_tbps:
        ax.axvline(peak_tbps, color="black", ls="--", lw=1)
        ax.text(peak_tbps, len(rows) - 0.5, f" datasheet {peak_tbps} TB/s", fontsize=8, va="bottom")
    ax.set_xlabel("effective bandwidth (TB/s) = bytes read + written / time")
    ax.set_title(f"memory-bound kernels against the same bytes{': ' + device if device else ''}", fontsize=10)
    fig.tight_layout()
    return fig


def live_bench(M: int = 262_144, N: int = 8_192) -> list[dict]:
    """GPU only: time the course kernels, eager and compiled PyTorch, and a device copy."""
    import triton.testing
    x = torch.randn(M, N, device="cuda", dtype=torch.bfloat16)
    b_col, b_pack = bytes_moved(M, N, "colmajor")["total"], bytes_moved(M, N, "packed")["total"]
    src = torch.empty(b_col // 2, device="cuda", dtype=torch.uint8)
    dst = torch.empty_like(src)
    compiled = torch.compile(kernels.silu_mul_fp8_colmajor_ref)
    cases = [
        ("device copy of the same bytes", lambda: dst.copy_(src), b_col),
        ("course colmajor (int64)", lambda: kernels.silu_mul_fp8_colmajor(x, check_finite=False), b_col),
        ("course colmajor (int32 offsets)", lambda: kernels.silu_mul_fp8_colmajor(
            x, index="int32", check_finite=False, unsafe_skip_launch_checks=True), b_col),
        ("course packed (int64, rows on axis 0)", lambda: kernels.silu_mul_fp8_packed(x, check_finite=False), b_pack),
        ("torch.compile of the reference", lambda: compiled(x), b_col),
        ("eager PyTorch reference", lambda: kernels.silu_mul_fp8_colmajor_ref(x), b_col),
    ]
    out = []
    for name, fn, nbytes in cases:
        if "int32" in name and not kernels.analyze("colmajor", M, N, index="int32").safe:
            continue
        us = triton.testing.do_bench(fn) * 1e3
        out.append({"name": name, "M": M, "N": N, "us": us, "tbps": nbytes / (us * 1e-6) / 1e12})
    return out


def parse_sweep(rows: list[dict]) -> list[dict]:
    """Records named like 'sweep-colmajor-bm8-g2-w4' / 'sweep-packed-bm8-w4' -> with kernel/bm/g/w fields.

    Explicit fields (kernel, block_m, groups_per_program, num_warps) win over the name when present.
    """
    out = []
    for r in rows:
        m = re.match(r"sweep-(\w+?)-bm(\d+)(?:-g(\d+))?-w(\d+)$", r["name"])
        if not m and not {"block_m", "num_warps"} <= set(r):
            continue
        kern = r.get("kernel", m.group(1) if m else "?")
        bm = int(r.get("block_m", m.group(2) if m else 0))
        g = int(r.get("groups_per_program", (m.group(3) if m and m.group(3) else 1)))
        w = int(r.get("num_warps", m.group(4) if m else 0))
        out.append({**r, "kernel": kern, "bm": bm, "g": g, "w": w})
    return out


def plot_sweep(rows: list[dict], kernel: str, copy_tbps: float | None = None):
    """Heat map of TB/s: one row per (BLOCK_M, groups per program), one column per num_warps."""
    rows = [r for r in parse_sweep(rows) if r["kernel"] == kernel and r.get("tbps") is not None]
    ys = sorted({(r["bm"], r["g"]) for r in rows})
    xs = sorted({r["w"] for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[ys.index((r["bm"], r["g"])), xs.index(r["w"])] = r["tbps"]
    # small (figure size and dpi 72): lesson 09 has a size budget
    fig, ax = plt.subplots(figsize=(1.2 * len(xs) + 2.4, 0.32 * len(ys) + 1.3), dpi=72)
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if grid[i, j] < np.nanmax(grid) * 0.8 else "black")
    ax.set_xticks(range(len(xs)), [plural(w, "warp") for w in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [f"BLOCK_M {b}, {plural(g, 'group')}" for b, g in ys], fontsize=8)
    fig.colorbar(im, ax=ax, label="TB/s")
    ttl = f"{kernel}: block-size sweep"
    if copy_tbps:
        ttl += f" (copy of the same bytes: {copy_tbps:.2f} TB/s)"
    ax.set_title(ttl, fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ recordings per device (lesson 09)
# Datasheet figures (NVIDIA H100 SXM and H200 SXM product pages): HBM bandwidth and FP32 peak.
DATASHEET = {"H100": {"tbps": 3.35, "fp32_tflops": 67.0}, "H200": {"tbps": 4.8, "fp32_tflops": 67.0}}
# CUDA C++ Programming Guide, "Arithmetic Instructions", throughput of native arithmetic instructions
# (results per clock per SM) for compute capability 9.0: fp32 add/mul/FMA 128; fp32 reciprocal,
# rsqrt, log2, exp2, sin, cos (the special-function unit, MUFU) 16.
SM90_PER_CLOCK = {"fma": 128, "sfu": 16}

LABELS = {
    "copy": "device copy of the same bytes (torch copy_)",
    "mix_baseline": "Triton: read x, write 1/4 as much, no math",
    "colmajor": "course colmajor (fp32 scales)",
    "colmajor_ue8m0": "course colmajor, UE8M0 scales",
    "packed": "course packed (UE8M0, 4 per int32)",
    "colmajor_plain": "colmajor, plain spelling (bench only)",
    "colmajor_ue8m0_plain": "colmajor UE8M0, plain spelling (bench only)",
    "packed_plain": "packed, plain spelling (bench only)",
    "colmajor_no_exp": "colmajor with exp(-g) -> g*g (bench only)",
    "packed_no_exp": "packed with exp(-g) -> g*g (bench only)",
    "packed_group_loop": "packed, upstream's loop over the groups (bench only)",
    "colmajor_ue8m0_div": "colmajor UE8M0 dividing by 2**e (bench only)",
    "packed_div": "packed dividing by 2**e (bench only)",
    "compile_ref": "torch.compile, the course's reference",
    "compile_alt": "torch.compile, another formulation",
}


def recorded_stage(stage: str, device: str = "h200") -> list[dict]:
    """The records of results/gpu/<device>/<stage>.json (banner printed by kit.recorded), or []."""
    from . import kit
    return bench_records(kit.recorded(stage, device=device))


def pick_rows(rows: list[dict], M: int, N: int, modes=("kernel",), names=None) -> list[dict]:
    """Records at one shape, one row per (name, mode), first occurrence, in recording order.

    The copy comes in each requested mode but "kernel": captured in a CUDA graph (the "kernel" mode)
    a torch copy becomes a copy-engine memcpy node, not the copy kernel a user's call launches, so
    kernel-only rows are set against the copy's call (kernels.bench does the same)."""
    out, seen = [], set()
    for r in rows:
        mode = r.get("mode", "call")
        want = modes
        if r["name"] == "copy":   # no graph-captured copy; kernel-only rows pair with its call
            want = {m for m in modes if m != "kernel"} | ({"call"} if "kernel" in modes else set())
        if r.get("M") != M or r.get("N") != N or mode not in want or (names and r["name"] not in names):
            continue
        if (r["name"], mode) not in seen:
            seen.add((r["name"], mode))
            out.append({**r, "label": LABELS.get(r["name"], r["name"])})
    return out


def ratio_table(rows: list[dict]) -> str:
    """Time, TB/s and the ratio to the copy for rows from pick_rows: the recording's own `vs_copy`
    (the median over rounds of throughput / the copy's in the same round and mode; kernel-only rows
    against the copy's call), and the host time per call where the mode measured it (loop)."""
    host = any("host_us" in r for r in rows)
    lines = [f"{'what':<46} {'mode':<7} {'time (µs)':>10} {'TB/s':>6} {'vs copy':>8}"
             + (f" {'host µs':>8}" if host else "")]
    for r in rows:
        if "us" not in r:   # a case that failed to build or run: kernels.bench records why
            lines.append(f"{r['label'][:46]:<46} {r.get('mode', 'call'):<7} "
                         f"failed: {str(r.get('error', 'no time recorded'))[:60]}")
            continue
        vs = "1.000" if r["name"] == "copy" else (f"{r['vs_copy']:.3f}" if "vs_copy" in r else "-")
        h = f" {r['host_us']:>8.1f}" if "host_us" in r else (" " * 9 if host else "")
        lines.append(f"{r['label'][:46]:<46} {r.get('mode', 'call'):<7} {r['us']:>10,.1f} "
                     f"{r['tbps']:>6.3f} {vs:>8}{h}")
    return "\n".join(lines)


def by_name(rows: list[dict], name: str, mode: str | None = None) -> dict | None:
    return next((r for r in rows if r["name"] == name and (mode is None or r.get("mode") == mode)), None)


def pipe_floors(M: int, N: int, gpu: str = "H200", sfu_per_element: int = 3,
                fma_per_element: int = 12) -> dict:
    """Time floors (µs) of one colmajor launch on the memory pipe and on the two arithmetic pipes.

    The clock is not on the datasheets; it follows from them: FP32 peak = 2 flops x 128 FMA per clock
    per SM x SMs x clock (132 SMs on the H100 SXM and the H200)."""
    d = DATASHEET[gpu]
    clock_hz = d["fp32_tflops"] * 1e12 / (2 * SM90_PER_CLOCK["fma"] * 132)
    elements = M * (N // 2)
    mem = bytes_moved(M, N)["total"] / (d["tbps"] * 1e12) * 1e6
    sfu = elements * sfu_per_element / (SM90_PER_CLOCK["sfu"] * 132 * clock_hz) * 1e6
    fma = elements * fma_per_element / (SM90_PER_CLOCK["fma"] * 132 * clock_hz) * 1e6
    return {"clock_ghz": clock_hz / 1e9, "memory_us": mem, "sfu_us": sfu, "fma_us": fma}


_SASS_CHILD = r"""
import re, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from kernels.colmajor import silu_mul_fp8_colmajor_kernel as k
from kernels.compile import disassemble
types = {"x_ptr": "*bf16", "q_ptr": "*fp8e4nv", "s_ptr": "*fp32", "eps": "fp32", "clamp_limit": "fp32"}
const = {"BLOCK_M": 8, "GROUPS": 8, "USE_UE8M0": False, "INDEX_64": True, "SOFTWARE_FP8": False,
         "HAS_CLAMP": False}
sig, cst = {}, {}
for p in k.params:
    if p.is_constexpr:
        if p.name not in const:
            sys.exit(f"sass_counts: unknown compile-time argument {p.name}")
        sig[p.name], cst[p.name] = "constexpr", const[p.name]
    else:
        sig[p.name] = types.get(p.name, "i32")
c = triton.compile(ASTSource(k, sig, cst), target=GPUTarget("cuda", 90, 32), options={"num_warps": 8})
sass = disassemble(c)
ops = re.findall(r"\b(MUFU\.\w+|FFMA|FMUL|FADD)\b", sass)
print(" ".join(f"{o}={ops.count(o)}" for o in sorted(set(ops))))
"""


def sass_counts() -> dict[str, int]:
    """Compile the colmajor kernel (fp32 scales, 8 rows x 8 groups, 8 warps) for sm_90 in a child
    process (no GPU needed: Triton compiles for any NVIDIA target) and count, in its SASS, the
    special-function instructions (MUFU.*) and the fp32 FMA-pipe ones, per thread of a program."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "TRITON_INTERPRET": "0"}  # compiled mode in the child, whatever the tier
    p = subprocess.run([sys.executable, "-c", _SASS_CHILD], capture_output=True, text=True,
                       timeout=600, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"compiling for sm_90 failed: {(p.stderr or p.stdout)[-800:]}")
    counts = {k: int(v) for k, v in (t.split("=") for t in p.stdout.split())}
    return {"per_thread": counts, "elements_per_thread": 8 * 8 * 128 // (8 * 32)}


def sass_table(device: str = "h200") -> str:
    """results/gpu/<device>/sass_sm90.json (scripts/sass_counts.py): SASS instructions per output
    element of each kernel at the two target shapes with that device's tiles, in kernels.gpu_math's
    GPU spelling and in the plain one (tl.exp(-g), the clamp before the cast), the order of the GPU
    spelling's global loads and stores, and the fp32 opcodes that differ."""
    from . import recorded
    try:
        rec = recorded.load("sass_sm90", device)
    except FileNotFoundError:
        return f"(no sass_sm90.json for {device}: python scripts/sass_counts.py results/gpu/{device})"
    except (OSError, ValueError) as e:
        return f"(results/gpu/{device}/sass_sm90.json cannot be read: {e})"
    try:
        return _sass_lines(rec)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return (f"(results/gpu/{device}/sass_sm90.json is not what scripts/sass_counts.py writes "
                f"({type(e).__name__}: {e}); re-run the script)")


def _sass_lines(rec: dict) -> str:
    by = {(r["kernel"], r["shape"], r["spelling"]): r for r in rec["records"]}
    if not any(k[2] == "gpu" for k in by):
        raise ValueError("no record of the GPU spelling")
    lines = [f"compiled for {rec['target']}, triton {rec['triton']}, {rec['date']}; "
             f"tiles from {rec['tiles_from']}",
             f"{'kernel':<15} {'shape':<16} {'plain':>6} {'gpu':>6}  {'loads (L), stores (S)':<22} "
             "fp32 instructions per warp (plain -> gpu)"]
    for (kernel, shape, spelling), r in by.items():
        if spelling != "gpu":
            continue
        p = by[(kernel, shape, "plain")]
        # the fp32 opcodes the two spellings change; ptxas also schedules integer and address code a
        # little differently between two compiles, which the totals include
        ops = sorted(o for o in set(p["opcodes"]) | set(r["opcodes"]) if o.startswith("F"))
        diff = ", ".join(f"{o} {p['opcodes'].get(o, 0)}->{r['opcodes'].get(o, 0)}" for o in ops
                         if p["opcodes"].get(o, 0) != r["opcodes"].get(o, 0))
        lines.append(f"{kernel:<15} {r['M']:>7,} x {r['N']:<6,} {p['per_element']:>6.1f} "
                     f"{r['per_element']:>6.1f}  {r.get('loads_and_stores', '?'):<22} {diff}")
    for (_, _, spelling), r in by.items():
        if spelling == "group_loop":   # scripts/sass_counts.py: bench.group_loop()'s packed
            lines.append(f"{'  group loop':<15} {r['M']:>7,} x {r['N']:<6,} {'':>6} "
                         f"{r['per_element']:>6.1f}  {r.get('loads_and_stores', '?'):<22} "
                         "(packed, gpu spelling, upstream's loop over the four groups)")
    return "\n".join(lines)


def tune_table(rows: list[dict], M: int, N: int, top: int = 3) -> str:
    """The `top` fastest tiles per kernel (by median) of a recorded tune stage at one shape, with the
    ratio to the copy timed in the same stage and mode (the record's own `vs_copy`). Failed tiles are
    left out."""
    at = [r for r in rows if r.get("M") == M and r.get("N") == N and "tbps" in r and "error" not in r]
    if not at:
        return f"(no tune records at M = {M:,}, N = {N:,})"
    copy = next((r for r in at if r["name"] == "copy"), None)
    lines = [f"{'kernel':<16} {'BLOCK_M':>7} {'groups/words':>12} {'warps':>5} {'TB/s':>6} {'vs copy':>8}"]
    for kernel in dict.fromkeys(r["name"] for r in at if r["name"] != "copy"):
        best = sorted((r for r in at if r["name"] == kernel and r.get("tile")),
                      key=lambda r: -r["tbps"])[:top]
        for r in best:
            t = r["tile"].get("tile", r["tile"])
            per = t.get("groups_per_program", t.get("words_per_program", "-"))  # words: the first H200 sweep
            vs = (f"{r['vs_copy']:.3f}" if "vs_copy" in r
                  else f"{r['tbps'] / copy['tbps']:.3f}" if copy else "-")
            lines.append(f"{kernel:<16} {t.get('block_m', '-'):>7} {per:>12} {t.get('num_warps', '-'):>5} "
                         f"{r['tbps']:>6.3f} {vs:>8}")
    return "\n".join(lines)


def host_table(device: str = "h200") -> str:
    """results/gpu/<device>/host_overhead.json as a table: the host time of each layer of a small
    call, from a bare torch copy up to the course's default call (scripts/host_overhead.py)."""
    from . import kit
    rec = kit.recorded("host_overhead", device=device)
    if not rec:
        return "(no host_overhead.json recorded for this device)"
    t = rec["tile"]
    batch = f" in batches of {rec['batch']}" if rec.get("batch") else " back to back"
    lines = [f"M = {rec['M']:,}, N = {rec['N']:,}, {rec['calls']:,} calls{batch}; colmajor tile "
             f"{t['block_m']} rows x {t['groups_per_program']} groups, {t['num_warps']} warps",
             f"{'layer':<40} {'host µs per call':>17}"]
    lines += [f"{k:<40} {v:>17.1f}" for k, v in rec["host_us_per_call"].items()]
    return "\n".join(lines)


def sizes_table(device: str = "h200") -> str:
    """The recorded size sweep (results/gpu/<device>/sizes.json) as text: per kernel, M down and N
    across, each cell the default call's and the kernel-only throughput as fractions of the copy's
    call (same bytes, same round; kernels.bench pairs kernel-only rows with the copy's call). The plot
    of the same file: results/gpu/<device>/sizes.png."""
    from . import kit
    rec = kit.recorded("sizes", device=device)
    if not rec:
        return "(no sizes.json recorded for this device)"
    try:
        return _sizes_lines(rec)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return _unreadable(device, "sizes", e)


def _unreadable(device: str, name: str, e: Exception) -> str:
    """A recording whose fields a table cannot use (hand-edited, truncated): a line, not a traceback."""
    return (f"(results/gpu/{device}/{name}.json is not a recording this table can read: "
            f"{type(e).__name__}: {e})")


def _sizes_lines(rec: dict) -> str:
    recs = [r for r in rec["records"] if "vs_copy" in r]
    ms, ns = sorted({r["M"] for r in recs}), sorted({r["N"] for r in recs})
    val = {(r["name"], r["mode"], r["M"], r["N"]): r["vs_copy"] for r in recs}
    lines = ["fraction of the copy: default call / kernel only (CUDA-graph replay)"]
    for kernel in ("colmajor", "colmajor_ue8m0", "packed"):
        lines.append(f"{kernel:<16}" + "".join(f"{f'N = {n:,}':>14}" for n in ns))
        for m in ms:
            cells = []
            for n in ns:
                c, k = val.get((kernel, "call", m, n)), val.get((kernel, "kernel", m, n))
                cells.append(f"{c:.2f} / {k:.2f}" if c is not None and k is not None else "-")
            lines.append(f"  M = {m:>9,}" + "".join(f"{x:>14}" for x in cells))
    return "\n".join(lines)


def clocks_table(device: str = "h200") -> str:
    """results/gpu/<device>/clocks.json (scripts/gpu_clocks.py): each workload's time per call in a
    sustained loop, against the copy's, with the SM clock, power and power-cap flag sampled meanwhile."""
    from . import kit
    rec = kit.recorded("clocks", device=device)
    if not rec:
        return "(no clocks.json recorded for this device)"
    try:
        return _clocks_lines(rec)
    except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as e:
        return _unreadable(device, "clocks", e)


def _clocks_lines(rec: dict) -> str:
    copy = {p["pass"]: p["us_per_call"] for p in rec["phases"] if p["name"] == "copy"}
    lines = [f"M = {rec['M']:,}, N = {rec['N']:,}: {rec['phase_s']:.0f} s of back-to-back calls each",
             f"{'workload':<18} {'pass':>4} {'µs/call':>9} {'time/copy':>9} {'SM MHz':>7} {'power W':>8} "
             f"{'power cap':>10}"]
    for p in rec["phases"]:
        cap = ",".join(p.get("clocks_throttle_reasons.sw_power_cap") or ["?"])
        lines.append(f"{p['name']:<18} {p['pass']:>4} {p['us_per_call']:>9,.1f} "
                     f"{p['us_per_call'] / copy[p['pass']]:>9.3f} {p['clocks.sm']:>7.0f} "
                     f"{p['power.draw']:>8.1f} {cap:>10}")
    return "\n".join(lines)
