"""Checks of exercise notebook 06 (grid_and_precheck): the packed grid and a host-side precheck."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels import offsets as koff
from kernels.offsets import INT32_MAX

from .core import DEV, Fail, NotYet, Result, ranges, run


@triton.jit
def _coverage_kernel(count_ptr, M, P, BLOCK_M: tl.constexpr):
    # the fixed packed kernel's mapping: row blocks on axis 0, packed words on axis 1
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    word = tl.program_id(1)
    tl.atomic_add(count_ptr + rows * P + word, 1, mask=(rows < M) & (word < P))


def check_packed_grid(packed_grid) -> Result:
    """packed_grid(M, N, block_m) -> launch grid, rows on axis 0 (the kernel reads program_id(0))."""
    def body(fn):
        for m, n in ((524_416, 4096), (4_610_048, 4096), (524_416, 8192), (1, 256)):
            grid = tuple(fn(m, n, 8))
            if not 1 <= len(grid) <= 3 or not all(isinstance(v, int) and v >= 1 for v in grid):
                raise Fail(f"packed_grid({m:,}, {n:,}, 8) = {grid!r}: a grid is 1 to 3 positive ints")
            for axis, (size, lim) in enumerate(zip(grid, koff.GRID_LIMITS)):
                if size > lim:
                    raise Fail(f"packed_grid(M={m:,}, N={n:,}) = {grid}: axis {axis} = {size:,} exceeds "
                               f"CUDA's limit of {lim:,} for grid axis {axis}; the launch fails with "
                               "'invalid argument'. Axes 1 and 2 are capped at 65,535 -- put the "
                               "ceil(M / block_m) row blocks on axis 0 (limit 2**31 - 1)")
        for m, n in ((37, 2048), (61, 2560), (8, 256), (3, 2048)):
            p = triton.cdiv(n // 256, 4)
            grid = tuple(fn(m, n, 8))
            count = torch.zeros(m * p, dtype=torch.int32, device=DEV)
            _coverage_kernel[grid](count, m, p, BLOCK_M=8)
            count = count.cpu().view(m, p)
            if bool((count == 1).all()):
                continue
            rows0 = (count == 0).any(dim=1).nonzero().flatten().tolist()
            rows2 = (count > 1).any(dim=1).nonzero().flatten().tolist()
            head = f"packed_grid(M={m}, N={n}, 8) = {grid} with {p} packed word(s) per row"
            if rows0:
                words = (count == 0).any(dim=0).nonzero().flatten().tolist()
                raise Fail(f"{head}: rows {ranges(rows0)} (words {ranges(words)}) are never processed. "
                           f"Axis 0 needs cdiv(M, block_m) = {triton.cdiv(m, 8)} row blocks, axis 1 "
                           f"cdiv(N/256, 4) = {p} words")
            raise Fail(f"{head}: rows {ranges(rows2)} are processed {int(count.max())} times")
        return "passed: M = 4,610,048 fits (axis 0), and small launches cover every row exactly once"
    return run("packed_grid", body, packed_grid)


_PRECHECK_CASES = (  # (M, N, block_m, rows_axis)
    (524_280, 4096, 8, 1), (524_288, 4096, 8, 1), (524_288, 4096, 8, 0), (524_416, 4096, 8, 0),
    (131_072, 16_384, 8, 0), (131_073, 16_384, 8, 0), (256, 1024, 8, 1), (4_610_048, 4096, 8, 0),
    (1_048_576, 2048, 8, 1), (1_048_576, 2048, 16, 1), (1, 256, 8, 1),
)


def check_precheck(precheck) -> Result:
    """precheck(M, N, block_m, rows_axis) returns for a safe launch, raises ValueError otherwise."""
    def body(fn):
        for m, n, b, axis in _PRECHECK_CASES:
            a = koff.analyze("packed", m, n, index="int32", rows_axis=axis, block_m=b)
            call = f"precheck(M={m:,}, N={n:,}, block_m={b}, rows_axis={axis})"
            try:
                fn(m, n, b, axis)
            except NotImplementedError:
                raise NotYet from None
            except Exception as e:  # noqa: BLE001
                if a.safe:
                    raise Fail(f"{call} raised {type(e).__name__}: {e} -- but this launch is safe: "
                               f"largest offset {a.exprs[0]['max']:,} <= {INT32_MAX:,}, grid "
                               f"{tuple(a.grid['size'])} within the limits") from None
                if isinstance(e, AssertionError):
                    raise Fail(f"{call} raised AssertionError: assert statements vanish under "
                               "python -O; raise a ValueError (or kernels.KernelInputError) instead") from None
                if not isinstance(e, ValueError):
                    raise Fail(f"{call} raised {type(e).__name__}; raise a ValueError subclass (e.g. "
                               "kernels.KernelInputError), the exception type for bad arguments") from None
                msg = str(e)
                digits = msg.replace(",", "").replace("_", "")
                reason = ("int32" in msg or "overflow" in msg.lower() or "grid" in msg.lower()
                          or "65535" in digits)
                if str(m) not in digits or not reason:
                    raise Fail(f"{call} raised {type(e).__name__}({msg!r}): not clear enough. Say which "
                               f"M it refuses (M = {m:,}) and why: the int32 offset overflow (its value) "
                               "or the grid axis over 65,535") from None
                continue
            if not a.safe:
                raise Fail(f"{call} let an unsafe launch through: " + "; ".join(a.problems))
        return "passed: 11 shapes; every unsafe one refused with a ValueError naming M and the cause"
    return run("precheck", body, precheck)
