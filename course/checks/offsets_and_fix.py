"""Checks of exercise notebook 05 (offsets_and_fix): the largest offset, the first failing M, the fix."""
from __future__ import annotations

import torch
import triton

from kernels import offsets as koff
from kernels.offsets import INT32_MAX

from .core import DEV, Fail, Result, run


_OFFSET_CASES = ((524_416, 4096, 8), (524_288, 4096, 8), (37, 512, 8), (130, 256, 16), (1, 1024, 8),
                 (4_610_048, 4096, 8), (262_145, 16_384, 32))


_C1 = next(e for e in koff.EXPRS["colmajor"] if e.name == "C1")   # input block base row0 * N


def _c1(m: int, n: int, b: int) -> int:
    return _C1.value(m, n, b)


def check_largest_offset(largest_offset) -> Result:
    """largest_offset(M, N, block_m) -> the largest input block base row0 * N (Python int)."""
    def body(fn):
        for m, n, b in _OFFSET_CASES:
            want = _c1(m, n, b)
            got = fn(m, n, b)
            if got == want:
                continue
            head = f"largest_offset(M={m:,}, N={n:,}, block_m={b}): expected {want:,}, got {got!r}"
            last = (triton.cdiv(m, b) - 1) * b
            if got == m * n or got == m * n - 1 or got == (m - 1) * n:
                raise Fail(f"{head}. That is an element offset; the kernel's int32 product is the "
                           f"*block base* row0 * N of the last program: row0 = (cdiv(M, block_m) - 1) * "
                           f"block_m = {last:,}")
            if got == (m // b - 1) * b * n:
                raise Fail(f"{head}. M = {m} is not a multiple of block_m: the last (partial) block "
                           f"starts at row {last:,}, use cdiv(M, block_m) programs")
            if isinstance(got, int) and got == koff.wrap_int32(want):
                raise Fail(f"{head}: that is the int32 wrap of the true value. Compute in Python ints, "
                           "which never overflow (no numpy/torch int32)")
            raise Fail(head)
        return "passed: 7 shapes, from M = 1 to the issue's M = 4,610,048"
    return run("largest_offset", body, largest_offset)


_FIRST_CASES = ((4096, 8, 8), (4096, 8, 128), (8192, 8, 1), (2048, 16, 128), (14_336, 8, 8),
                (4096, 32, 1))


def check_first_failing_m(first_failing_m) -> Result:
    """first_failing_m(N, block_m, multiple) -> smallest M (a multiple of `multiple`) that overflows."""
    def body(fn):
        for n, b, mult in _FIRST_CASES:
            want = koff.first_bad_m("colmajor", "C1", n, b, mult)
            got = fn(n, b, mult)
            if got == want:
                continue
            head = f"first_failing_m(N={n:,}, block_m={b}, multiple={mult}): expected {want:,}, got {got!r}"
            if isinstance(got, int) and got > 0:
                v = _c1(got, n, b)
                if got % mult:
                    raise Fail(f"{head}. {got:,} is not a multiple of {mult}")
                if v <= INT32_MAX:
                    raise Fail(f"{head}. At M = {got:,} the largest offset is {v:,} <= {INT32_MAX:,}: "
                               "still safe (the first *failing* M is the first one whose offset is "
                               "strictly greater than int32 max)")
                raise Fail(f"{head}. M = {got:,} does overflow ({v:,}), but a smaller multiple of "
                           f"{mult} already does: M = {want:,} gives {_c1(want, n, b):,}")
            raise Fail(head)
        return "passed: 6 (N, block_m, multiple) cases, e.g. 524,296 and 524,416 for N = 4096"
    return run("first_failing_m", body, first_failing_m)


_PIDS = (0, 1, 2, 65_535, 65_536, 65_543, 65_551, 131_071, 262_143, 1_048_575)


def check_fix_offsets(kernel) -> Result:
    """kernel(pid_ptr, out_ptr, n, stride, BLOCK_M, BLOCK) stores pid * BLOCK_M * stride (int64)."""
    def body(k):
        for stride, block_m in ((4096, 8), (16_384, 8), (2048, 128)):
            pids = torch.tensor(_PIDS, dtype=torch.int32, device=DEV)
            out = torch.full((len(_PIDS),), -7, dtype=torch.int64, device=DEV)
            k[(1,)](pids, out, len(_PIDS), stride, BLOCK_M=block_m, BLOCK=16)
            got = out.cpu().tolist()
            want = [p * block_m * stride for p in _PIDS]
            if got == want:
                continue
            i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
            p = _PIDS[i]
            head = (f"stride={stride:,}, BLOCK_M={block_m}: pid {p:,} should give {want[i]:,}, got "
                    f"{got[i]:,}")
            wrapped = [i for i, w in enumerate(want) if w > INT32_MAX]
            if all(got[i] == koff.wrap_int32(want[i]) for i in range(len(want))):
                first = _PIDS[wrapped[0]]
                raise Fail(f"{head} = {want[i]:,} - 2**32 x {(want[i] - got[i]) // 2**32}: the int32 wrap. "
                           f"From pid {first:,} on, pid * BLOCK_M * stride exceeds {INT32_MAX:,}, and the "
                           "product is computed in int32 (pid is int32, stride is an int32 argument). "
                           "A cast applied to the product widens a number that has already wrapped: "
                           "the widening has to happen before the first multiply. Which operand can "
                           "you widen there?")
            if got[i] == -7:
                raise Fail(f"{head}: nothing was stored for it (still the check's -7). Store all n "
                           "values: mask with the lane index < n")
            raise Fail(head)
        return "passed: exact int64 offsets for pids up to 1,048,575 (int32 wraps from pid 65,536 at stride 4096)"
    return run("fix_offsets", body, kernel)
