"""Helpers for lessons 05-09: pictures, explorers, recorded-run display, byte and offset arithmetic.

Everything here is exact host arithmetic or plotting; the kernels live in ``kernels``. Widgets
degrade to a static result: each explorer prints/plots its default once (what a headless run and
nbval see), then shows controls that redraw below only when a learner moves them.
"""
from __future__ import annotations

import json
import math
import struct

import torch

import kernels
from kernels import offsets as _off
from kernels import bench as _bench
from kernels.reference import GROUP

from . import recorded as _rec

ON_GPU: bool = not kernels.tier.INTERPRETED
INT32_MAX = _off.INT32_MAX
H100_SXM_TBPS = 3.35  # NVIDIA H100 SXM datasheet HBM3 bandwidth (TB/s)


# ---------------------------------------------------------------------------------------------
# Common: verdicts, GPU gating, recorded runs, explorers
# ---------------------------------------------------------------------------------------------
def verdict(label: str, report) -> bool:
    """Print ``label: ✅ ...`` / ``label: ❌ <why>`` for a kernels.compare Report (or a bool)."""
    if isinstance(report, bool):
        print(f"{label}: {'✅' if report else '❌'}")
        return report
    if report:  # the same words on both tiers, so stored outputs do not depend on the hardware
        print(f"{label}: ✅ matches its PyTorch reference ({report.codes:,} fp8 codes, "
              f"{report.scales:,} scales checked)")
    else:
        print(f"{label}: {report}")
    return bool(report)


def needs_gpu(what: str) -> None:
    print(f"needs a GPU — showing a recorded run instead ({what}).")
    print(f"this machine: {kernels.tier.describe()}")


def recorded(name: str) -> dict | None:
    """A recorded GPU run with its banner, or None with a clear message when it is missing."""
    try:
        rec = _rec.load(name)
    except FileNotFoundError:
        print(f"no recorded GPU run yet: results/gpu/{name}.json is missing "
              f"(it is produced by running the course on a real GPU).")
        return None
    except (json.JSONDecodeError, OSError) as e:
        print(f"recorded GPU run {name!r} could not be read: {e}")
        return None
    try:
        print(_rec.banner(rec))
    except (KeyError, TypeError):
        print(f"[recorded GPU run] {name} (no device/date header in the file)")
    if rec.get("command"):
        print(f"command: {rec['command']}")
    return rec


def show(value, indent: int = 0, width: int = 110, drop: tuple = ()) -> None:
    """Print a recorded value of unknown shape readably (dicts as key: value, lists line by line).

    Verdict dicts of kernels.repro print as one line each; text lines containing any of `drop` are
    left out (e.g. compute-sanitizer's host backtrace).
    """
    pad = " " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and len(json.dumps(v)) > width - indent - len(str(k)):
                print(f"{pad}{k}:")
                show(v, indent + 2, width, drop)
            else:
                print(f"{pad}{k}: {v if isinstance(v, str) else json.dumps(v)}")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict) and {"kernel", "M", "N", "index", "verdict"} <= set(v):
                print(pad + repro_line(v))
            elif isinstance(v, (dict, list)):
                show(v, indent, width, drop)
                print(pad + "-")
            elif not any(d in str(v) for d in drop):
                print(f"{pad}{v}")
    else:
        for line in str(value).splitlines():
            if not any(d in line for d in drop):
                print(pad + line)


def repro_line(r: dict) -> str:
    """One verdict dict of kernels.repro.run as one readable line (tolerates missing fields)."""
    try:
        from kernels.repro import one_line
        return one_line({"exit": "?", "wall_s": "?", **r})
    except (KeyError, TypeError, ValueError):
        return json.dumps(r)


def explorer(update, **controls) -> None:
    """Show `update(**defaults)` now (static: what headless runs see), then live controls.

    `controls` maps each argument of `update` to an ipywidgets control; the output area below the
    controls is redrawn only when a control changes.
    """
    update(**{k: w.value for k, w in controls.items()})
    try:
        import ipywidgets as W
        from IPython.display import clear_output, display
    except ImportError:
        print("(ipywidgets is not installed: the static result above is all there is)")
        return
    out = W.Output()

    def redraw(_=None):
        with out:
            clear_output(wait=True)
            update(**{k: w.value for k, w in controls.items()})

    for w in controls.values():
        w.observe(redraw, names="value")
    display(W.VBox([W.HTML("<b>Explore:</b> move a control; the result redraws here.")]
                   + list(controls.values()) + [out]))


# ---------------------------------------------------------------------------------------------
# Lesson 05: UE8M0 bytes and packed words
# ---------------------------------------------------------------------------------------------
def f32_bits(v: float) -> tuple[int, int, int]:
    """(sign, exponent field, mantissa field) of v as an fp32."""
    b = struct.unpack("<I", struct.pack("<f", v))[0]
    return b >> 31, (b >> 23) & 0xFF, b & 0x7FFFFF


def byte_log2_route(s: torch.Tensor) -> torch.Tensor:
    """Biased exponent byte by the kernels' route: ceil(log2(s)) + 127 in fp32."""
    return (torch.ceil(torch.log2(s.float())) + 127).to(torch.int32)


def byte_bit_route(s: torch.Tensor) -> torch.Tensor:
    """Biased exponent byte by the exact route (positive normal fp32): exponent + (mantissa != 0)."""
    b = s.float().contiguous().view(torch.int32)
    return ((b >> 23) & 0xFF) + ((b & 0x7FFFFF) != 0).to(torch.int32)


def just_above_powers_of_two(lo: int = -40, hi: int = 20) -> torch.Tensor:
    """The fp32 value one ulp above 2**e for every e in [lo, hi)."""
    p = torch.exp2(torch.arange(lo, hi, dtype=torch.float32))
    return torch.nextafter(p, torch.full_like(p, math.inf))


def word_table(packed: torch.Tensor, groups: int, row: int, word: int) -> str:
    """Decode one packed int32 word into its 4 lanes: byte, exponent, scale, which group."""
    w = int(packed[row, word])
    u = w & 0xFFFFFFFF
    lines = [f"row {row}, word {word}: int32 {w:,}  = 0x{u:08X}  (sign bit {'set' if w < 0 else 'clear'})",
             f"{'byte j':>6} {'bits':>7} {'group 4p+j':>10} {'hex':>4} {'byte':>5} {'exponent':>8} "
             f"{'scale = 2**(byte-127)':>22}"]
    lanes = kernels.unpack_exponents(packed[row:row + 1, word:word + 1], 4)[0].tolist()
    for j, byte in enumerate(lanes):
        g = 4 * word + j
        if g >= groups:
            lines.append(f"{j:>6} {f'{8*j}-{8*j+7}':>7} {g:>10} {byte:>4X} {byte:>5}  unused lane "
                         f"(only {groups} groups): must be 0")
            continue
        lines.append(f"{j:>6} {f'{8*j}-{8*j+7}':>7} {g:>10} {byte:>4X} {byte:>5} {byte - 127:>8} "
                     f"{2.0 ** (byte - 127):>22.6g}")
    return "\n".join(lines)


def plot_word(word: int, title: str = ""):
    """Draw a packed int32 as 4 coloured bytes, most significant (byte 3, sign bit) on the left."""
    import matplotlib.pyplot as plt
    u = word & 0xFFFFFFFF
    fig, ax = plt.subplots(figsize=(10, 1.9))
    colors = ["#4c72b0", "#55a868", "#c44e52", "#8172b2"]
    for j in range(4):
        byte = (u >> (8 * j)) & 0xFF
        x0 = (3 - j) * 8
        ax.add_patch(plt.Rectangle((x0, 0), 8, 1, color=colors[j], alpha=0.25))
        for k in range(8):
            bit = (byte >> (7 - k)) & 1
            ax.text(x0 + k + 0.5, 0.5, str(bit), ha="center", va="center", fontsize=10,
                    fontweight="bold" if (j == 3 and k == 0) else "normal")
        ax.text(x0 + 4, 1.35, f"byte {j} = {byte} (group 4p+{j})", ha="center", fontsize=9)
    ax.annotate("sign bit of the int32", xy=(0.5, 0), xytext=(0.5, -0.65), ha="left", fontsize=8,
                arrowprops=dict(arrowstyle="->"))
    ax.set_xlim(0, 32)
    ax.set_ylim(-0.8, 1.8)
    ax.axis("off")
    signed = u - (1 << 32) if u >= 1 << 31 else u
    ax.set_title(title or f"0x{u:08X} = int32 {signed:,}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# Lesson 06: offsets, wrap-around, the deployment
# ---------------------------------------------------------------------------------------------
OVERFLOWING = {"colmajor": "C1", "packed": "P1"}  # the input offsets: the largest in each kernel


def first_wrapping_program(kernel: str, M: int, N: int, block_m: int) -> int | None:
    """Row-block id of the first program whose input offset leaves int32 (None if none does)."""
    if kernel == "colmajor":       # C1 = row0 * N, row0 = pid * block_m
        pid = INT32_MAX // (block_m * N) + 1
    else:                          # P1 = row * N for the rows of the block
        pid = (INT32_MAX // N + 1) // block_m
    return pid if pid < -(-M // block_m) else None


def offset_report(kernel: str, M: int, N: int, block_m: int = 8) -> str:
    a = kernels.analyze(kernel, M, N, "int32", 0, block_m)
    e = next(x for x in a.exprs if x["name"] == OVERFLOWING[kernel])
    pid = first_wrapping_program(kernel, M, N, block_m)
    lines = [f"{kernel}, M = {M:,}, N = {N:,}, {block_m} rows per program -> {-(-M // block_m):,} row blocks",
             f"largest input offset {e['name']} ({e['text']}) = {e['max']:,}",
             f"int32 max                          = {INT32_MAX:,}"]
    if e["fits"]:
        lines.append(f"fits, with {INT32_MAX - e['max']:,} to spare ✅")
    else:
        lines.append(f"does NOT fit: computed in int32 it wraps to {e['as_computed']:,} ❌")
        lines.append(f"first row block that wraps: {pid:,} (rows {pid * block_m:,}...); "
                     f"first failing M for this N: {e['first_bad_M']:,}")
        lines.append(program_ids_line(kernel, N, pid))
    return "\n".join(lines)


def tiles_per_row_block(kernel: str, N: int) -> int:
    """Programs per row block in the course's default 1-D tile grid (column blocks / packed words)."""
    g = N // 2 // GROUP
    if kernel == "colmajor":
        gpp = kernels.validate.check_groups_per_program(None, g, kernels.colmajor.DEFAULT_GROUPS_PER_PROGRAM)
        return g // gpp
    return -(-g // 4)


def program_ids_line(kernel: str, N: int, row_block: int) -> str:
    """Where row block `row_block` sits in the course's 1-D tile grid and in upstream's 2-D grid."""
    per = tiles_per_row_block(kernel, N)
    what = "column block(s)" if kernel == "colmajor" else "packed word(s)"
    up = (f"a 2-D grid (row blocks, groups) like upstream's runs it as programs "
          f"({row_block:,}, 0..{N // 2 // GROUP - 1})" if kernel == "colmajor" else
          f"a 2-D grid (words, row blocks) like upstream's runs it at program_id(1) = {row_block:,}")
    return (f"program ids: in the course's 1-D tile grid ({per} {what} per row block) that row block is "
            f"programs {row_block * per:,}..{row_block * per + per - 1:,}; {up}")


def plot_offsets(kernel: str, M: int, N: int, block_m: int = 8):
    """Input block offset per row block, exact and as int32, against the int32 limit."""
    import matplotlib.pyplot as plt
    import numpy as np
    blocks = -(-M // block_m)
    pid = np.unique(np.linspace(0, blocks - 1, 2000).astype(np.int64))
    exact = pid * block_m * N if kernel == "colmajor" else (pid * block_m + block_m - 1).clip(max=M - 1) * N
    wrapped = (exact + 2**31) % 2**32 - 2**31
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(pid, exact / 1e9, label="exact offset (int64)", lw=2)
    ax.plot(pid, wrapped / 1e9, label="as computed in int32", lw=1.5, ls="--")
    ax.axhline(INT32_MAX / 1e9, color="red", lw=1, label="int32 max = 2**31 - 1")
    ax.axhline(0, color="gray", lw=0.5)
    first = first_wrapping_program(kernel, M, N, block_m)
    if first is not None:
        ax.axvline(first, color="red", ls=":", lw=1)
        ax.text(first, ax.get_ylim()[0] * 0.9, f" row block {first:,}", color="red", fontsize=8)
    ax.set_xlabel("row block pid_m (the course's 1-D grid runs several programs per row block)")
    ax.set_ylabel("element offset (billions)")
    ax.set_title(f"{kernel}: input offset per row block, M = {M:,}, N = {N:,}, BLOCK_M = {block_m}")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def deployment_report(dp_ranks: int, tokens_per_rank: int, topk: int, local_experts: int,
                      align: int = 128, N: int = 4096) -> str:
    M = kernels.moe_workspace_rows(tokens_per_rank, dp_ranks, topk, local_experts, align)
    lines = [f"worst-case M_sum = round_up({tokens_per_rank:,} x {dp_ranks} x {topk} + "
             f"{local_experts} x ({align} - 1), {align}) = {M:,} rows",
             f"input [M, N] bf16 with N = {N:,}: {M * N * 2 / 1e9:,.1f} GB, largest element offset "
             f"M*N - 1 = {M * N - 1:,} ({(M * N - 1) / INT32_MAX:.2f} x int32 max)"]
    for kernel, axis in (("colmajor", 0), ("packed", 1)):
        bug = kernels.analyze(kernel, M, N, "int32", axis)
        fix = kernels.analyze(kernel, M, N, "int64", axis)
        lines.append(f"  {kernel:<8} as shipped (int32): {'safe ✅' if bug.safe else 'FAILS ❌'}; "
                     f"after the int64 fix: {'safe ✅' if fix.safe else 'FAILS ❌ (' + fix.problems[0].split(':')[0] + ')'}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Lesson 07: probes and compiled IR
# ---------------------------------------------------------------------------------------------
def probe_table(pids, block_m: int, stride: int) -> str:
    from kernels.probe import probe_offsets
    cols = {m: probe_offsets(pids, block_m, stride, m).tolist() for m in ("int32", "cast-after", "cast-before")}
    lines = [f"offset = pid * {block_m} * {stride:,}",
             f"{'pid':>6} {'exact':>16} {'int32':>16} {'cast-after':>16} {'cast-before':>16}"]
    for i, p in enumerate(pids):
        exact = p * block_m * stride
        marks = ["" if cols[m][i] == exact else " ✗" for m in cols]
        lines.append(f"{p:>6,} {exact:>16,} " + " ".join(f"{cols[m][i]:>14,}{mk:<2}"
                                                          for m, mk in zip(cols, marks)))
    return "\n".join(lines)


def ttir_of_colmajor(index: str) -> str:
    """GPU only: compile the colmajor kernel for `index` and return its TTIR text.

    Runtime arguments are matched by name against the kernel's signature, so this keeps working
    when the kernel gains or loses an argument.
    """
    import inspect
    from kernels.colmajor import silu_mul_fp8_colmajor_kernel as k
    from kernels.reference import FP8, mn_major
    m, n = 128, 256
    x = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
    q = torch.empty(m, n // 2, device="cuda", dtype=FP8)
    s = mn_major(m, n // 256, torch.float32, "cuda")
    known = {"x_ptr": x, "q_ptr": q, "s_ptr": s, "M": m, "N": n, "half": n // 2,
             "s_stride": s.stride(1), "eps": 1e-10, "col_blocks": n // 256, "BLOCK_M": 8, "GROUPS": 1,
             "USE_UE8M0": False, "INDEX_64": index == "int64"}
    names = list(inspect.signature(k.fn).parameters)
    missing = [p for p in names if p not in known]
    if missing:
        raise RuntimeError(f"ttir_of_colmajor does not know the kernel arguments {missing}")
    # a 1-D grid of tiles when the kernel takes col_blocks, else (row blocks, column blocks)
    grid = (m // 8 * (n // 256),) if "col_blocks" in names else (m // 8, n // 256)
    compiled = k[grid](**{p: known[p] for p in names})
    torch.cuda.synchronize()
    return compiled.asm["ttir"]


def grep_ir(text: str, words=("get_program_id", "arith.extsi", "arith.muli")) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if any(w in ln for w in words)]


# ---------------------------------------------------------------------------------------------
# Lesson 09: bytes and bandwidth
# ---------------------------------------------------------------------------------------------
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
    import matplotlib.pyplot as plt
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
        if "int32" in name and not kernels.analyze("colmajor", M, N, "int32").safe:
            continue
        us = triton.testing.do_bench(fn) * 1e3
        out.append({"name": name, "M": M, "N": N, "us": us, "tbps": nbytes / (us * 1e-6) / 1e12})
    return out


def pick(records, *words):
    """The entries of a recorded dict whose key contains one of `words` (case-insensitive)."""
    if not isinstance(records, dict):
        return records
    return {k: v for k, v in records.items() if any(w.lower() in str(k).lower() for w in words)}


def kernel_lines(jit_fn, start: str, stop: str) -> str:
    """The source lines of a @triton.jit function from the line containing `start` to `stop`."""
    import inspect
    lines, first = inspect.getsourcelines(getattr(jit_fn, "fn", jit_fn))
    i = next(k for k, ln in enumerate(lines) if start in ln)
    j = next(k for k, ln in enumerate(lines) if k > i and stop in ln)
    return "".join(f"{first + k:>4}  {lines[k]}" for k in range(i, j + 1)).rstrip()


def parse_sweep(rows: list[dict]) -> list[dict]:
    """Records named like 'sweep-colmajor-bm8-g2-w4' / 'sweep-packed-bm8-w4' -> with kernel/bm/g/w fields.

    Explicit fields (kernel, block_m, groups_per_program, num_warps) win over the name when present.
    """
    import re
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
    import matplotlib.pyplot as plt
    import numpy as np
    rows = [r for r in parse_sweep(rows) if r["kernel"] == kernel and r.get("tbps") is not None]
    ys = sorted({(r["bm"], r["g"]) for r in rows})
    xs = sorted({r["w"] for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[ys.index((r["bm"], r["g"])), xs.index(r["w"])] = r["tbps"]
    fig, ax = plt.subplots(figsize=(1.3 * len(xs) + 2.5, 0.35 * len(ys) + 1.4))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if grid[i, j] < np.nanmax(grid) * 0.8 else "black")
    ax.set_xticks(range(len(xs)), [f"{w} warps" for w in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [f"BLOCK_M {b}, {g} group{'s' if g > 1 else ''}" for b, g in ys], fontsize=8)
    fig.colorbar(im, ax=ax, label="TB/s")
    ttl = f"{kernel}: block-size sweep"
    if copy_tbps:
        ttl += f" (copy of the same bytes: {copy_tbps:.2f} TB/s)"
    ax.set_title(ttl, fontsize=9)
    fig.tight_layout()
    return fig
