"""The int32 wrap, computed by a real Triton kernel (kernels.probe), without dereferencing anything.

int32 and cast-after must hold the wrapped product (the cast comes too late), cast-before the exact
one. Expected values are Python's exact integer products, wrapped with kernels.offsets.wrap_int32
(itself checked against numpy's int32 cast in test_offsets.py).
"""
from __future__ import annotations

import pytest
import torch

from kernels.offsets import INT32_MAX, wrap_int32
from kernels.probe import MODES, probe_offsets

# program ids around the PR shape's boundary (BLOCK_M = 8, N = 4096): 65,535 is the last row block
# whose base fits (524,280 * 4096 = 2,147,450,880), 65,536 reaches 2**31 exactly, 65,543 is the block
# the GPU's TRITON_DEBUG sanitizer reported, 65,551 is the last block of M = 524,416
PR_PIDS = [0, 1, 7, 65_534, 65_535, 65_536, 65_537, 65_543, 65_551]


def expected(pids, block_m, stride, mode):
    exact = [p * block_m * stride for p in pids]
    return exact if mode == "cast-before" else [wrap_int32(v) for v in exact]


@pytest.mark.parametrize("mode", MODES)
def test_pr_shape_row_blocks(mode):
    got = probe_offsets(PR_PIDS, 8, 4096, mode)
    assert got.dtype == torch.int64
    want = expected(PR_PIDS, 8, 4096, mode)
    assert got.tolist() == want, f"{mode}: got {got.tolist()}, want {want}"


def test_pr_shape_values_spelled_out():
    i32 = dict(zip(PR_PIDS, probe_offsets(PR_PIDS, 8, 4096, "int32").tolist()))
    exact = dict(zip(PR_PIDS, probe_offsets(PR_PIDS, 8, 4096, "cast-before").tolist()))
    assert i32[65_535] == exact[65_535] == 2_147_450_880            # the last block that fits
    assert exact[65_536] == 2**31 and i32[65_536] == -2**31         # the first that wraps
    assert exact[65_543] == 2_147_713_024 and i32[65_543] == 2_147_713_024 - 2**32
    assert exact[65_551] == 524_408 * 4096 and i32[65_551] == -2_146_992_128
    assert all(i32[p] < 0 for p in PR_PIDS if p >= 65_536)        # ~4 GiB of bf16 *behind* x


def test_interpreter_note_example():
    # BLOCK_M = 128, stride 8192: pid 2048 -> -2**31 and pid 4096 -> 0 (it would read row 0)
    pids = [2047, 2048, 4095, 4096]
    i32 = probe_offsets(pids, 128, 8192, "int32").tolist()
    after = probe_offsets(pids, 128, 8192, "cast-after").tolist()
    before = probe_offsets(pids, 128, 8192, "cast-before").tolist()
    assert i32[1] == -2**31 and i32[3] == 0
    assert after == i32, "casting the wrapped product to int64 changes nothing"
    assert before == [2047 * 2**20, 2**31, 4095 * 2**20, 2**32]
    assert i32 == [wrap_int32(v) for v in before]


@pytest.mark.parametrize("block_m,stride", [(8, 4096), (8, 8192), (1, 14336), (16, 7168), (128, 2048)])
def test_random_pids(block_m, stride):
    g = torch.Generator().manual_seed(block_m * 100_003 + stride)
    # ids from 0 up to well past the point where the product leaves int32 (pid < 2**31 always)
    top = min(2**31 - 1, 8 * (INT32_MAX // (block_m * stride) + 1))
    pids = torch.randint(0, top, (200,), generator=g).tolist() + [top - 1]
    for mode in MODES:
        got = probe_offsets(pids, block_m, stride, mode).tolist()
        want = expected(pids, block_m, stride, mode)
        bad = [(p, gv, wv) for p, gv, wv in zip(pids, got, want) if gv != wv]
        assert not bad, f"{mode}: {len(bad)} wrong, first (pid, got, want) = {bad[0]}"
    # the sample really crossed the boundary, so int32 and cast-before disagree somewhere
    assert probe_offsets(pids, block_m, stride, "int32").tolist() != \
        probe_offsets(pids, block_m, stride, "cast-before").tolist()


def test_probe_rejects_unknown_mode_and_accepts_empty():
    with pytest.raises(ValueError, match="mode must be one of"):
        probe_offsets([1], 8, 4096, "int16")
    assert probe_offsets([], 8, 4096, "int32").numel() == 0
