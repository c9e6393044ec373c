"""Checks of exercise notebook 03 (colmajor_store): MN-major scale offsets and allocation."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels import reference as ref

from .core import DEV, Fail, Result, run


@triton.jit
def _scale_offsets_harness(out_ptr, s_stride, FN: tl.constexpr, BLOCK_M: tl.constexpr,
                           G: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    groups = tl.arange(0, G)
    offs = FN(rows, groups, s_stride)
    tl.store(out_ptr + rows[:, None] * G + groups[None, :], offs.to(tl.int64))


def check_scale_offsets(scale_offsets) -> Result:
    """scale_offsets(rows [BLOCK_M], groups [G], s_stride) -> [BLOCK_M, G] element offsets."""
    def body(fn):
        for m, g in ((37, 4), (64, 8)):
            stride = ref.round_up(m, 4)
            rows_pad = triton.cdiv(m, 8) * 8
            got = torch.full((rows_pad, g), -1, dtype=torch.int64, device=DEV)
            _scale_offsets_harness[(rows_pad // 8,)](got, stride, FN=fn, BLOCK_M=8, G=g)
            got = got.cpu()[:m]
            r = torch.arange(m)[:, None]
            c = torch.arange(g)[None, :]
            want = c * stride + r
            if torch.equal(got, want):
                continue
            bad = (got != want).nonzero()
            i, j = bad[0].tolist()
            head = (f"M={m}, G={g}, s_stride={stride}: {len(bad)} of {m * g} offsets differ; first at "
                    f"(row {i}, group {j}): expected {want[i, j].item()}, got {got[i, j].item()}")
            if torch.equal(got, r * g + c):
                raise Fail(f"{head}. Your offsets row * G + group are row-major: strides ({g}, 1). DeepGEMM "
                           f"reads the scales MN-major: the M scales of one group are contiguous, strides "
                           f"(1, s_stride) = (1, {stride}), so (row r, group g) lives at g * s_stride + r")
            if torch.equal(got, r * stride + c):
                raise Fail(f"{head}. You multiplied the row by s_stride; it is the *group* (column) that "
                           f"strides by s_stride = round_up(M, 4), rows are contiguous: g * s_stride + r")
            size = g * stride
            oob = (got < 0) | (got >= size)
            if oob.any():
                i, j = oob.nonzero()[0].tolist()
                raise Fail(f"{head}. Offset {got[i, j].item()} for (row {i}, group {j}) lies outside the "
                           f"scale buffer of {size} elements (G x s_stride): that store would be out of bounds")
            if len(set(got.flatten().tolist())) < got.numel():
                raise Fail(f"{head}. Two (row, group) pairs get the same offset: one scale would "
                           "overwrite another")
            raise Fail(head)
        return "passed: (row r, group g) -> g * round_up(M, 4) + r for M = 37 and 64"
    return run("scale_offsets", body, scale_offsets)


def check_scale_alloc(alloc_scales) -> Result:
    """alloc_scales(M, G) -> fp32 [M, G] with strides (1, round_up(M, 4)) on the kernels' device."""
    def body(fn):
        for m, g in ((37, 4), (40, 2), (1, 3), (130, 16)):
            s = fn(m, g)
            if not isinstance(s, torch.Tensor):
                raise Fail(f"alloc_scales({m}, {g}) returned {type(s).__name__}, expected a tensor")
            want = (1, ref.round_up(m, 4))
            what = f"alloc_scales({m}, {g})"
            if tuple(s.shape) != (m, g) or s.dtype != torch.float32:
                raise Fail(f"{what} is {tuple(s.shape)} {s.dtype}, expected ({m}, {g}) torch.float32")
            if s.device.type != torch.device(DEV).type:
                raise Fail(f"{what} is on {s.device}; the kernels run on {DEV} (use device=...)")
            if s.stride() == (g, 1) and g > 1:
                raise Fail(f"{what} has strides {s.stride()}: row-major. DeepGEMM wants MN-major (the M "
                           f"scales of one group contiguous): strides {want}. Allocate [G, "
                           f"round_up(M, 4)] and transpose (.t()), then slice the M rows")
            if s.stride() == (1, m) and m % 4:
                raise Fail(f"{what} has strides {s.stride()}: column-major, but the column stride {m} is "
                           f"not a multiple of 4. TMA needs 16-byte aligned columns (4 fp32): the stride "
                           f"must be round_up(M, 4) = {want[1]}, expected strides {want}")
            if s.stride() != want and not (g == 1 and s.stride()[0] == 1):
                raise Fail(f"{what} has strides {s.stride()}, expected {want} (MN-major, TMA-aligned)")
            room = s.untyped_storage().nbytes() // 4 - s.storage_offset()
            if room < (g - 1) * want[1] + m:
                raise Fail(f"{what}: its storage holds {room} floats, fewer than the {g * want[1]} the "
                           "strides address")
        return "passed: strides (1, round_up(M, 4)) for M = 37, 40, 1 and 130"
    return run("scale_alloc", body, alloc_scales)
