"""Checks of exercise notebook 07 (audit): where the softmax kernel's row offset wraps, and the fix of
the scatter kernel's two row offsets (lesson 10, course/audit/examples/)."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.offsets import INT32_MAX, wrap_int32

from .core import DEV, Fail, Result, run, seeded

# ---------------------------------------------------------------- 7.1 where does row * stride wrap?

# Vocabulary sizes of real LM heads (Llama 3, Qwen 2, Llama 2, Gemma) and powers of two, where the
# last safe offset is exactly 2**31 - n and the first wrapping one exactly 2**31.
_VOCABS = (128_256, 151_936, 32_000, 256_000, 4096, 65_536, 1)


def _row_offset(rows: int, n_cols: int) -> int:
    """The largest offset softmax_rows computes for `rows` rows: its last program's row * stride."""
    return (rows - 1) * n_cols


def _first_wrap(n_cols: int) -> int:
    """Smallest row count whose largest offset exceeds int32, by bisection on the kernel's expression."""
    lo, hi = 1, 2
    while _row_offset(hi, n_cols) <= INT32_MAX:
        lo, hi = hi, hi * 2
    while hi - lo > 1:                       # invariant: lo is safe, hi wraps
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _row_offset(mid, n_cols) > INT32_MAX else (mid, hi)
    return hi


def check_first_wrapping_rows(first_wrapping_rows) -> Result:
    """first_wrapping_rows(n_cols) -> the smallest number of rows M at which softmax_rows wraps."""
    def body(fn):
        for n in _VOCABS:
            want = _first_wrap(n)
            got = fn(n)
            if got == want and isinstance(got, int):
                continue
            shown = f"{got:,}" if isinstance(got, int) and not isinstance(got, bool) else repr(got)
            head = f"first_wrapping_rows(n_cols={n:,}): expected {want:,}, got {shown}"
            if not isinstance(got, int) or isinstance(got, bool):
                raise Fail(f"{head}. Return a Python int (a number of rows); Python ints never wrap")
            if got < want:
                raise Fail(f"{head}. With M = {got:,} rows the last program is row {got - 1:,}, and "
                           f"its offset row * stride = {_row_offset(got, n):,} <= {INT32_MAX:,}: still "
                           "safe. The largest row a launch of M rows touches is M - 1, not M")
            if _row_offset(want, n) == 2**31:
                raise Fail(f"{head}. Wrong threshold: at M = {want:,} the last row's offset is exactly "
                           f"2**31 = {2**31:,}, which int32 cannot hold (its largest value is "
                           f"2**31 - 1 = {INT32_MAX:,}). Wrapping means > 2**31 - 1")
            raise Fail(f"{head}. M = {got:,} does wrap, but a smaller M already does: at M = {want:,} "
                       f"the last row's offset is {_row_offset(want, n):,} > {INT32_MAX:,}")
        return ("passed: 7 widths, e.g. 16,745 rows of Llama 3's 128,256 logits and 524,289 rows of "
                "4,096 (where the offset is exactly 2**31)")
    return run("first_wrapping_rows", body, first_wrapping_rows)


# ---------------------------------------------------------------- 7.2 the scatter kernel's two offsets

@triton.jit
def _offsets_harness(pid_ptr, dst_ptr, src_out, dst_out, n, D, FN: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.arange(0, BLOCK)
    m = i < n
    pid = tl.load(pid_ptr + i, mask=m, other=0)      # int32, as tl.program_id(0) is
    dst = tl.load(dst_ptr + i, mask=m, other=0)      # int32, an index loaded from memory
    s, d = FN(pid, dst, D)
    tl.store(src_out + i, s, mask=m)                 # stored, never dereferenced
    tl.store(dst_out + i, d, mask=m)


@triton.jit
def _scatter_harness(src_ptr, idx_ptr, out_ptr, D, FN: tl.constexpr, BLOCK_D: tl.constexpr):
    # scatter_add_rows of course/audit/examples/scatter.py, its two row offsets from FN
    pid = tl.program_id(0)
    dst = tl.load(idx_ptr + pid)
    s, d = FN(pid, dst, D)
    c = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    m = c < D
    v = tl.load(src_ptr + s + c, mask=m, other=0.0)
    tl.atomic_add(out_ptr + d + c, v, mask=m)


# (program id, destination row): both sides of each wrap for D = 4096 (pid, dst from 524,288 on)
# up to the realistic launch of bounds.toml (4,610,048 source rows, 576,000 destination rows)
_PIDS = (0, 1, 7, 524_287, 524_288, 600_000, 1_048_575, 4_610_047)
_DSTS = (3, 0, 575_999, 5, 262_143, 524_287, 524_288, 575_999)


def _offsets(fn, d: int):
    pids = torch.tensor(_PIDS, dtype=torch.int32, device=DEV)
    dsts = torch.tensor(_DSTS, dtype=torch.int32, device=DEV)
    so = torch.full((len(_PIDS),), -7, dtype=torch.int64, device=DEV)
    do = torch.full((len(_PIDS),), -7, dtype=torch.int64, device=DEV)
    _offsets_harness[(1,)](pids, dsts, so, do, len(_PIDS), d, FN=fn, BLOCK=triton.next_power_of_2(len(_PIDS)))
    return so.cpu().tolist(), do.cpu().tolist()


def _first_diff(got, want):
    return next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)


def check_scatter_offsets(scatter_offsets) -> Result:
    """scatter_offsets(pid, dst, D) -> (pid * D, dst * D), exact (a @triton.jit function)."""
    def body(fn):
        for d in (4096, 7168, 8192):
            got_s, got_d = _offsets(fn, d)
            want_s = [p * d for p in _PIDS]
            want_d = [t * d for t in _DSTS]
            if got_s == want_s and got_d == want_d:
                continue
            if got_s == want_d and got_d == want_s:
                raise Fail(f"D={d:,}: the two offsets come back swapped: return (source offset pid * D, "
                           "destination offset dst * D), in that order")
            if -7 in got_s + got_d:
                raise Fail(f"D={d:,}: nothing was stored for some lanes (still the check's -7): return "
                           "a value for every lane")
            src_wrapped = got_s != want_s and got_s == [wrap_int32(v) for v in want_s]
            dst_wrapped = got_d != want_d and got_d == [wrap_int32(v) for v in want_d]
            parts = []
            if got_s != want_s:
                i = _first_diff(got_s, want_s)
                parts.append(f"source offset of pid {_PIDS[i]:,}: expected {want_s[i]:,}, got {got_s[i]:,}")
            if got_d != want_d:
                i = _first_diff(got_d, want_d)
                parts.append(f"destination offset of dst {_DSTS[i]:,}: expected {want_d[i]:,}, got {got_d[i]:,}")
            head = f"D={d:,}: " + "; ".join(parts)
            why = ("the int32 wrap (the true value minus a multiple of 2**32). The product is computed "
                   "in 32 bits because both operands are int32; a cast applied to the product widens a "
                   "number that has already wrapped: the widening has to happen before the multiply")
            if src_wrapped and dst_wrapped:
                raise Fail(f"{head}. Both are {why}")
            if src_wrapped and got_d == want_d:
                raise Fail(f"{head}. The destination is fixed, but pid * D is still {why}. From pid "
                           f"{(INT32_MAX // d) + 1:,} on it exceeds {INT32_MAX:,}")
            if dst_wrapped and got_s == want_s:
                raise Fail(f"{head}. The source is fixed, but dst * D is still {why}. From dst "
                           f"{(INT32_MAX // d) + 1:,} on it exceeds {INT32_MAX:,}: dst is an index loaded "
                           "from memory (int32 here), and a destination of that many rows is realistic")
            raise Fail(head)
        # the offsets are exact: now the whole scatter, with these offsets, against torch
        g = seeded(70)
        for rows, dests, d in ((37, 11, 200), (64, 64, 96)):
            src = torch.randn(rows, d, generator=g)
            idx = torch.randint(0, dests, (rows,), generator=g, dtype=torch.int32)
            out = torch.zeros(dests, d)
            want = out.index_add(0, idx.long(), src)
            got = torch.zeros(dests, d, device=DEV)
            _scatter_harness[(rows, triton.cdiv(d, 64))](src.to(DEV), idx.to(DEV), got, d, FN=fn, BLOCK_D=64)
            err = (got.cpu() - want).abs().max().item()
            if not err <= 1e-5:
                raise Fail(f"the offsets are exact, but the scatter-add of {rows} rows of {d} with them "
                           f"differs from torch's index_add by up to {err:.3g}")
        return ("passed: exact int64 offsets up to pid 4,610,047 and dst 575,999 (int32 wraps from "
                "524,288 at D = 4,096), and the scatter with them equals torch's index_add")
    return run("scatter_offsets", body, scatter_offsets)
