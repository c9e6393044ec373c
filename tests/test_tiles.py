"""Tiles per GPU (kernels.tiles): every tile gives the same bits, and resolution is a cached lookup.

Bit-identity is checked against the plain-PyTorch references (an independent implementation) for
every tile a table or the sweep can choose, on small shapes that exercise partial words and the
groups-per-program reduction. Resolution is checked with a fake CUDA device and a table written here.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

import kernels
from kernels import bench, packed as packed_mod, tiles
from kernels import reference as R

from conftest import DEVICE, TIER


def _all_tiles() -> list[tuple[str, dict]]:
    """Every tile the CPU tier, the default, the sweep's candidates or a committed table can pick."""
    seen, out = set(), []

    def add(kernel, t):
        key = (kernel, tuple(sorted(t.items())))
        if key not in seen:
            seen.add(key)
            out.append((kernel, dict(t)))

    for k in tiles.KERNELS:
        add(k, tiles.CPU_TILES[k])
        add(k, tiles.DEFAULT_TILES[k])
        for c in bench.CANDIDATES[k]:
            add(k, bench._effective(k, 1 << 20, c))   # N huge: no reduction, the tile as listed
    for table in tiles.tables():
        for k, by_bucket in table["tiles"].items():
            for by_n in by_bucket.values():
                for t in by_n.values():
                    add(k, t)
    return out


TILES = _all_tiles()
SHAPES = [(19, 4_096), (9, 3_584), (8, 7_168)]   # 4 words; 3.5 words; 7 words (odd)


def _x(m, n, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, n, generator=g) * 3).to(torch.bfloat16).to(DEVICE)


@pytest.mark.skipif(TIER != "cpu", reason="bit-identity holds on the CPU tier (GPU: envelope)")
@pytest.mark.parametrize("kernel,tile", TILES, ids=[f"{k}-{'-'.join(map(str, t.values()))}"
                                                    for k, t in TILES])
def test_every_tile_is_bit_identical_to_the_reference(kernel, tile):
    for i, (m, n) in enumerate(SHAPES):
        x = _x(m, n, 1_000 + i)
        t = dict(tile)
        if "groups_per_program" in t:   # an explicit value must divide N/256 (never reduced silently)
            t["groups_per_program"] = math.gcd(n // 256, t["groups_per_program"])
        if kernel == "packed":
            q, s = kernels.silu_mul_fp8_packed(x, **t)
            rq, rs = R.silu_mul_fp8_packed_ref(x)
        else:
            ue = kernel == "colmajor_ue8m0"
            q, s = kernels.silu_mul_fp8_colmajor(x, use_ue8m0=ue, **t)
            rq, rs = R.silu_mul_fp8_colmajor_ref(x, use_ue8m0=ue)
        assert torch.equal(q.view(torch.uint8), rq.view(torch.uint8)), (kernel, tile, m, n)
        assert torch.equal(s, rs) and s.stride() == rs.stride(), (kernel, tile, m, n)


def test_packed_upstream_grid_still_launches_with_its_own_tile():
    x = _x(37, 2_048, 7)
    q, s = kernels.silu_mul_fp8_packed(x, rows_axis=1)
    rq, rs = R.silu_mul_fp8_packed_ref(x)
    if TIER == "cpu":
        assert torch.equal(q.view(torch.uint8), rq.view(torch.uint8)) and torch.equal(s, rs)


class _Spy:
    """Stands in for a @triton.jit kernel: records the grid and the launch keywords."""

    def __init__(self):
        self.calls = []

    def __getitem__(self, grid):
        return lambda *args, **kw: self.calls.append((grid, args, kw))


def test_launchers_use_the_resolved_tile(monkeypatch):
    spy = _Spy()
    monkeypatch.setattr(packed_mod, "silu_mul_fp8_packed_kernel", spy)
    monkeypatch.setattr(tiles, "_cpu_tuple", lambda kernel: (16, 2, 1))   # the CPU tier's tile
    monkeypatch.setattr(tiles, "_resolve_tuple", lambda kernel, *a: (16, 2, 1))   # and a GPU's
    x = _x(40, 2_048, 3)   # 8 groups = 2 words, one word per program
    kernels.silu_mul_fp8_packed(x)
    grid, args, kw = spy.calls[-1]
    assert grid == (3 * 2,)                    # cdiv(40, 16) row blocks x 2 words
    assert (kw["BLOCK_M"], kw["num_warps"], kw["num_stages"]) == (16, 2, 1)
    kernels.silu_mul_fp8_packed(x, block_m=4, num_warps=8)   # explicit arguments win
    grid, args, kw = spy.calls[-1]
    assert grid == (10 * 2,) and (kw["BLOCK_M"], kw["num_warps"], kw["num_stages"]) == (4, 8, 1)


def test_bad_tile_arguments_are_refused_before_launch():
    x = _x(8, 512, 0)
    with pytest.raises(kernels.KernelInputError, match="num_warps"):
        kernels.silu_mul_fp8_colmajor(x, num_warps=3)
    with pytest.raises(kernels.KernelInputError, match="num_stages"):
        kernels.silu_mul_fp8_packed(x, num_stages=0)
    with pytest.raises(kernels.KernelInputError, match="groups_per_program"):
        kernels.silu_mul_fp8_colmajor(x, groups_per_program=3)


# --- resolution -------------------------------------------------------------------------------
def _table(device="Fake GPU", capability="9.9", tiles_=None):
    return {"format": tiles.FORMAT, "device": device, "capability": capability,
            "tiles": tiles_ if tiles_ is not None else {
                "packed": {"M>16384": {"8192": {"block_m": 16, "num_warps": 4, "num_stages": 2},
                                       "4096": {"block_m": 32, "num_warps": 8, "num_stages": 2}},
                           "M<=16384": {"7168": {"block_m": 4, "num_warps": 2, "num_stages": 2}}}}}


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    """A CUDA device named 'Fake GPU' (sm_99) that counts its queries, and a table for it."""
    calls = {"name": 0, "cap": 0}

    def name(i=0):
        calls["name"] += 1
        return "Fake GPU"

    def cap(i=0):
        calls["cap"] += 1
        return (9, 9)

    monkeypatch.setattr(torch.cuda, "get_device_name", name)
    monkeypatch.setattr(torch.cuda, "get_device_capability", cap)
    path = tmp_path / "tiles.json"
    path.write_text(json.dumps(_table()))
    tiles.device_info.cache_clear()
    tiles.use_table(path)
    yield calls, path
    tiles.device_info.cache_clear()
    tiles.use_table(None)


CUDA0 = torch.device("cuda", 0)


def test_resolution_picks_bucket_and_nearest_n(fake_gpu):
    r = lambda m, n: tiles.resolve("packed", CUDA0, m, n)  # noqa: E731
    assert r(524_416, 8_192)["block_m"] == 16
    assert r(524_416, 4_096)["block_m"] == 32
    assert r(524_416, 7_168)["block_m"] == 16       # nearest recorded N (log scale): 8,192
    assert r(524_416, 5_120)["block_m"] == 32       # nearer to 4,096
    assert r(4_096, 7_168)["block_m"] == 4          # small bucket
    assert r(16_384, 2_048)["block_m"] == 4         # bucket edge is inclusive
    assert tiles.resolve("colmajor", CUDA0, 4_096, 7_168) == tiles.DEFAULT_TILES["colmajor"]
    assert tiles.resolve("packed", CUDA0, 524_416, 8_192, upstream=True) == tiles.CPU_TILES["packed"]
    assert tiles.resolve("packed", torch.device("cpu"), 524_416, 8_192) == tiles.CPU_TILES["packed"]
    assert "tiles.json" in tiles.explain("packed", CUDA0, 4_096, 7_168)["source"]


def test_resolution_queries_the_device_once(fake_gpu):
    calls, _ = fake_gpu
    for m in range(1, 20_000, 7):
        tiles.resolve("packed", CUDA0, m, 8_192)
        tiles.fill("colmajor", CUDA0, m, 8_192, (None, 4, None, None))
        tiles.fill("packed", CUDA0, m, 8_192, (None, None, None))
    assert calls == {"name": 1, "cap": 1}
    assert tiles._resolve.cache_info().currsize <= 4   # keyed on the bucket, not on M


def test_another_gpu_of_the_same_capability_gets_the_default(fake_gpu):
    _, path = fake_gpu
    path.write_text(json.dumps(_table(device="Other GPU", capability="9.9")))
    tiles.use_table(path)
    assert tiles.resolve("packed", CUDA0, 524_416, 8_192) == tiles.DEFAULT_TILES["packed"]


def test_fill_keeps_explicit_arguments(fake_gpu):
    cpu = tiles.CPU_TILES["packed"]
    got = tiles.fill("packed", torch.device("cpu"), 100, 2_048, (4, None, 1))
    assert got == (4, cpu["num_warps"], 1)
    assert tiles.fill("packed", CUDA0, 524_416, 8_192, (None,) * 3) == (16, 4, 2)
    assert tiles.fill("packed", CUDA0, 524_416, 8_192, (None, 1, 3)) == (16, 1, 3)
    assert tiles.fill("packed", CUDA0, 524_416, 8_192, (1, 1, 1)) == (1, 1, 1)


@pytest.mark.parametrize("mutate,match", [
    (lambda t: t.update(format="x"), "format"),
    (lambda t: t.pop("device"), "device"),
    (lambda t: t["tiles"].update(other={}), "unknown kernel"),
    (lambda t: t["tiles"]["packed"].update({"M>9": {}}), "unknown M bucket"),
    (lambda t: t["tiles"]["packed"]["M>16384"]["8192"].update(block_m=12), "power of two"),
    (lambda t: t["tiles"]["packed"]["M>16384"]["8192"].pop("num_warps"), "exactly the fields"),
    (lambda t: t["tiles"]["packed"]["M>16384"].update({"big": {}}), "numeric N"),
])
def test_bad_tables_are_refused_with_the_entry_named(mutate, match):
    t = _table()
    mutate(t)
    with pytest.raises(ValueError, match=match):
        tiles.check_table(t)


def test_committed_tables_are_valid():
    for t in tiles.tables():          # results/gpu/*/tiles.json, checked when read
        assert t["device"] and t["capability"]
