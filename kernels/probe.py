"""Show the int32 wrap without touching memory: a kernel that *stores* the offsets it computes.

For each program id it computes ``pid * BLOCK * stride`` three ways and writes the results to an
int64 tensor, never dereferencing them:

* ``"int32"``       -- as the buggy kernels do: all operands int32, the product wraps;
* ``"cast-after"``  -- ``(pid * BLOCK * stride).to(int64)``: the product already wrapped in int32,
                       widening the wrong number changes nothing;
* ``"cast-before"`` -- ``pid.to(int64) * BLOCK * stride``: the fix; exact.

Program ids are read from a tensor so the CPU tier can probe row block 65,536 (the first whose
block base wraps for N = 4,096) without running 65,536 programs.

:func:`trace` goes further: it replays the course's two real kernels, in Triton's interpreter, for
chosen programs of a launch of any size, and records the element offset of every unmasked load and
store as the kernel computed it. Tests compare kernels.offsets' verdicts against it.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
import triton
import triton.language as tl

from . import tier
from .reference import FP8

MODES = ("int32", "cast-after", "cast-before")


@triton.jit
def offset_probe_kernel(
    pid_ptr,            # *i32 program ids to evaluate (int32, like tl.program_id)
    out_ptr,            # *i64 the offset each id produces
    n,                  # number of ids
    stride,             # row stride in elements (int32 when < 2**31, as Triton types it)
    BLOCK_M: tl.constexpr,   # rows per program
    MODE: tl.constexpr,      # 0 = int32, 1 = cast after the multiply, 2 = cast before
    BLOCK: tl.constexpr,
):
    i = tl.arange(0, BLOCK)
    pid = tl.load(pid_ptr + i, mask=i < n, other=0)
    if MODE == 0:
        off = (pid * BLOCK_M * stride).to(tl.int64)   # widened only to be stored
    elif MODE == 1:
        off = (pid * BLOCK_M * stride).to(tl.int64)   # the wrong habit: same bits as MODE 0
    else:
        off = pid.to(tl.int64) * BLOCK_M * stride     # the fix
    tl.store(out_ptr + i, off, mask=i < n)


def probe_offsets(pids, block_m: int, stride: int, mode: str) -> torch.Tensor:
    """Offsets ``pid * block_m * stride`` as the kernel computes them in `mode` (int64 tensor)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    p = torch.as_tensor(pids, dtype=torch.int32, device=tier.DEVICE).flatten()
    if p.numel() == 0:
        return torch.empty(0, dtype=torch.int64)
    out = torch.empty(p.numel(), dtype=torch.int64, device=tier.DEVICE)
    block = triton.next_power_of_2(p.numel())
    offset_probe_kernel[(1,)](p, out, p.numel(), stride, BLOCK_M=block_m, MODE=MODES.index(mode),
                              BLOCK=block)
    return out.cpu()


# ---------------------------------------------------------------------------------------------
# The kernels' own index arithmetic, replayed for chosen programs without touching memory


@dataclasses.dataclass
class Access:
    """One tl.load / tl.store of one traced program: which buffer, and the element offsets of its
    unmasked lanes, as the kernel computed them (int32 wrap included), relative to the buffer."""
    buffer: str          # "x", "q" or "scales"
    store: bool
    program: tuple[int, int]
    offsets: np.ndarray  # int64, one per unmasked lane
    values: np.ndarray | None = None   # stored values of the unmasked lanes (stores only)


def trace(kernel: str, m: int, n: int, programs, *, index: str = "int64", rows_axis: int = 0,
          block_m: int = 8, groups_per_program: int = 1, dtype=torch.bfloat16) -> list[Access]:
    """Run the real @triton.jit kernel in Triton's interpreter for the given program ids of an
    [m, n] launch, and record every load and store instead of performing it (loads return 0).

    programs: (pid0, pid1) pairs (pid1 = 0 on a 1-D grid). m may be far beyond any memory: nothing is
    allocated but a few bytes per buffer, so the int32 wrap at M ~ 2**31 / N can be observed for any
    shape. The index arithmetic is the kernel's own, run by the interpreter with numpy int32/int64
    (wrapping as on the GPU); the scalar arguments come from the launcher's kernel_args. Needs the
    CPU tier (kernels defined for the interpreter).
    """
    if not tier.INTERPRETED:
        raise RuntimeError("kernels.probe.trace replays kernels in Triton's interpreter: CPU tier only")
    from triton.runtime import interpreter as I

    from . import colmajor, packed
    if kernel == "colmajor":
        fn = colmajor.silu_mul_fp8_colmajor_kernel
        args = colmajor.kernel_args(m, n, eps=1e-10, index=index, block_m=block_m,
                                    groups=groups_per_program, use_ue8m0=False)
        s_dtype = torch.float32
    elif kernel == "packed":
        fn = packed.silu_mul_fp8_packed_kernel
        args = packed.kernel_args(m, n, index=index, rows_axis=rows_axis, block_m=block_m)
        s_dtype = torch.int32
    else:
        raise ValueError(f"kernel must be 'colmajor' or 'packed', got {kernel!r}")
    bufs = {"x": torch.zeros(4, dtype=dtype), "q": torch.zeros(4, dtype=torch.uint8).view(FP8),
            "scales": torch.zeros(4, dtype=s_dtype)}
    by_elem = {}   # element type -> buffer name (the three buffers' element types differ)
    programs = [tuple(p) + (0,) * (2 - len(p)) for p in programs]
    accesses: list[Access] = []
    builder = I.interpreter_builder

    def name_of(ptrs):
        ty = str(ptrs.get_element_ty())
        if ty not in by_elem:
            raise RuntimeError(f"access through an unexpected element type {ty}")
        return by_elem[ty]

    def offsets_of(name, ptrs, mask):
        t = bufs[name]
        live = np.asarray(mask.data).astype(bool)
        addr = np.broadcast_to(ptrs.data, live.shape)[live]
        delta = (addr - np.uint64(t.data_ptr())).view(np.int64)   # wraps like the GPU's 64-bit adds
        return delta // t.element_size()

    def get_pid(axis):
        return I.TensorHandle(np.array([programs[builder.grid_idx[0]][axis]], dtype=np.int32),
                              tl.int32)

    def load(ptrs, mask, other, *_):
        name = name_of(ptrs)
        accesses.append(Access(name, False, programs[builder.grid_idx[0]],
                               offsets_of(name, ptrs, mask)))
        np_t = I._get_np_dtype(ptrs.get_element_ty())
        data = (np.zeros(ptrs.data.shape, dtype=np_t) if other is None
                else np.broadcast_to(other.data, ptrs.data.shape).astype(np_t))
        return I.TensorHandle(data, ptrs.get_element_ty())

    def store(ptrs, value, mask, *_):
        name = name_of(ptrs)
        vals = np.broadcast_to(value.data, mask.data.shape)[np.asarray(mask.data).astype(bool)]
        accesses.append(Access(name, True, programs[builder.grid_idx[0]],
                               offsets_of(name, ptrs, mask), vals.copy()))

    saved = {k: getattr(builder, k) for k in ("create_get_program_id", "create_masked_load",
                                               "create_masked_store")}
    builder.create_get_program_id = get_pid
    builder.create_masked_load = load
    builder.create_masked_store = store
    try:
        # element types as the interpreter names them, from one throwaway conversion each
        for name, t in bufs.items():
            by_elem[str(I._implicit_cvt(t).dtype.element_ty)] = name
        fn[(len(programs),)](x_ptr=bufs["x"], q_ptr=bufs["q"], s_ptr=bufs["scales"], **args)
    finally:
        for k, v in saved.items():
            setattr(builder, k, v)
    return accesses
