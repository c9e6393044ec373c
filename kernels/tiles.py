"""Launch tiles per GPU: which block shape and how many warps each kernel runs with, per device.

A *tile* is everything that shapes a launch without changing its result: rows per program
(``block_m``), 128-column groups per program (colmajor: ``groups_per_program``; the packed kernel
handles one packed word, 4 groups, per program), ``num_warps`` and ``num_stages``. Results
are bit-identical for every tile (tests/test_tiles.py); only speed changes, and the best tile
differs between GPUs (an H100's best packed tile is 0.74x a copy on an H200: shared/facts, "NVIDIA H200").

Where a tile comes from, first match wins:

1. the launcher's explicit arguments (any of them; the rest is filled in from below);
2. the CPU tier (Triton's interpreter): always ``CPU_TILES``, so CPU results never depend on a file;
3. an upstream variant (``index="int32"`` or packed ``rows_axis=1``, the bug demos): ``CPU_TILES``
   too, so the thresholds the lessons compute (first failing M, grid axis 1) hold on every GPU;
4. a table recorded on a GPU of the same name by ``python -m kernels bench --sweep``
   (``KERNELS_TILES=<file>`` first, then ``results/gpu/*/tiles.json``). Not by compute capability:
   the H100 and the H200 are both sm_90 and want different tiles;
5. ``DEFAULT_TILES`` (tuned on an H100; results/gpu/bench.json) for a GPU nobody has recorded.

Inside a table, tiles are keyed on the kernel, an M bucket (``M_BUCKETS``) and N (the nearest
recorded N when this N was not swept). Resolution is a dict lookup behind ``functools.lru_cache``:
the device is queried once per device index, a (kernel, device, bucket, N) key once per process.
See docs/tuning.md for tuning your own GPU.
"""
from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE_GLOB = "results/gpu/*/tiles.json"
FORMAT = "kernels.tiles/1"
KERNELS = ("colmajor", "colmajor_ue8m0", "packed")
FIELDS = {  # tile fields of each kernel, in launcher-argument order
    "colmajor": ("block_m", "groups_per_program", "num_warps", "num_stages"),
    "colmajor_ue8m0": ("block_m", "groups_per_program", "num_warps", "num_stages"),
    "packed": ("block_m", "num_warps", "num_stages"),
}
# M buckets: (name, largest M in it). Small M is a few thousand programs or fewer (launch- and
# tail-bound); large M fills the GPU many times over (bandwidth-bound).
M_BUCKETS = (("M<=16384", 16_384), ("M>16384", math.inf))

_COL = {"block_m": 8, "groups_per_program": 8, "num_warps": 8, "num_stages": 3}
# The H100-tuned launch settings (results/gpu/bench.json, 2026-11-27): colmajor 8 rows x 8 groups,
# 8 warps; packed upstream's 8 rows, 4 warps, 2 stages, one word (4 groups) per program. Packed's was
# tuned when the kernel still looped over the word's groups; the word tile has not run on an H100.
DEFAULT_TILES = {
    "colmajor": dict(_COL),
    "colmajor_ue8m0": dict(_COL),
    "packed": {"block_m": 8, "num_warps": 4, "num_stages": 2},
}
# The CPU tier and the upstream variants: fixed and deterministic (the interpreter ignores warps).
CPU_TILES = DEFAULT_TILES


def bucket(m: int) -> str:
    for name, top in M_BUCKETS:
        if m <= top:
            return name
    raise AssertionError("the last bucket is open")


@functools.cache
def device_info(index: int) -> tuple[str, str]:
    """(name, "major.minor") of CUDA device `index`: queried once per process and device."""
    import torch
    major, minor = torch.cuda.get_device_capability(index)
    return torch.cuda.get_device_name(index), f"{major}.{minor}"


def check_table(table: dict, where: str = "table") -> dict:
    """Validate a tile table (format kernels.tiles/1); returns it. Errors name the bad entry."""
    if table.get("format") != FORMAT:
        raise ValueError(f"{where}: format must be {FORMAT!r}, got {table.get('format')!r}")
    for key in ("device", "capability", "tiles"):
        if key not in table:
            raise ValueError(f"{where}: missing {key!r}")
    for kernel, by_bucket in table["tiles"].items():
        if kernel not in KERNELS:
            raise ValueError(f"{where}: unknown kernel {kernel!r} (known: {KERNELS})")
        for b, by_n in by_bucket.items():
            if b not in dict(M_BUCKETS):
                raise ValueError(f"{where}: {kernel}: unknown M bucket {b!r} "
                                 f"(known: {[n for n, _ in M_BUCKETS]})")
            for n, tile in by_n.items():
                if not n.isdigit() or set(tile) != set(FIELDS[kernel]):
                    raise ValueError(f"{where}: {kernel} {b} N={n}: need a numeric N and exactly "
                                     f"the fields {FIELDS[kernel]}, got {sorted(tile)}")
                for f, v in tile.items():
                    pow2 = f != "num_stages"   # stages: any count; the rest are powers of two
                    ok = isinstance(v, int) and 1 <= v <= 128 and (not pow2 or v & (v - 1) == 0)
                    if not ok:
                        raise ValueError(f"{where}: {kernel} {b} N={n}: {f} = {v!r} must be "
                                         + ("a power of two " if pow2 else "an integer ")
                                         + "from 1 to 128")
    return table


@functools.lru_cache(maxsize=1)
def tables() -> tuple[dict, ...]:
    """Every tile table this process can use, the KERNELS_TILES file first. Read once."""
    paths = [Path(os.environ["KERNELS_TILES"])] if os.environ.get("KERNELS_TILES") else []
    paths += sorted(ROOT.glob(TABLE_GLOB))
    out = []
    for p in paths:
        out.append(check_table(json.loads(p.read_text()), str(p)) | {"_path": str(p)})
    return tuple(out)


def use_table(path: str | os.PathLike | None) -> None:
    """Make `path` the first table (None: back to the environment and results/gpu/); clears caches.

    The benchmark calls this after a sweep so that the same process measures the tiles it chose.
    """
    if path is None:
        os.environ.pop("KERNELS_TILES", None)
    else:
        os.environ["KERNELS_TILES"] = str(path)
    tables.cache_clear()
    from . import plan
    plan.invalidate()  # launch plans hold resolved tiles
    _table_for.cache_clear()
    _resolve.cache_clear()
    _resolve_tuple.cache_clear()


@functools.cache
def _table_for(name: str) -> dict | None:
    return next((t for t in tables() if t["device"] == name), None)


@functools.cache
def _resolve(kernel: str, device_index: int, b: str, n: int) -> tuple[dict, str]:
    table = _table_for(device_info(device_index)[0])
    by_bucket = (table or {}).get("tiles", {}).get(kernel, {})
    # this bucket, else the other one (a table swept at one size only still beats the default)
    by_n = by_bucket.get(b) or next((v for v in by_bucket.values() if v), None)
    if not by_n:
        return DEFAULT_TILES[kernel], "default"
    best = min(by_n, key=lambda k: (abs(math.log2(int(k) / n)), int(k)))  # nearest N
    return by_n[best], f"{table['_path']} [{kernel}][{b if b in by_bucket else '?'}][{best}]"


def resolve(kernel: str, device, m: int, n: int, upstream: bool = False) -> dict:
    """The tile of `kernel` ("colmajor", "colmajor_ue8m0", "packed") for x [m, n] on `device`.

    device: a torch.device (its type "cpu" means the CPU tier). upstream=True: a bug-demo variant.
    Returns a dict of FIELDS[kernel] (do not mutate it: it is shared).
    """
    if device.type != "cuda" or upstream:
        return CPU_TILES[kernel]
    return _resolve(kernel, device.index or 0, bucket(m), n)[0]


def explain(kernel: str, device, m: int, n: int, upstream: bool = False) -> dict:
    """resolve() plus where the tile came from (for benchmark records and docs)."""
    if device.type != "cuda" or upstream:
        return {"tile": CPU_TILES[kernel], "source": "cpu/upstream fixed tile"}
    tile, source = _resolve(kernel, device.index or 0, bucket(m), n)
    return {"tile": tile, "source": source}


def fill(kernel: str, device, m: int, n: int, given: tuple, upstream: bool = False) -> tuple:
    """The launcher's tile as a tuple in FIELDS[kernel] order: its explicit (non-None) arguments in
    `given` (same order) win, the rest is resolved. The all-default call is one cached lookup."""
    if None not in given:
        return given
    if device.type != "cuda" or upstream:
        tile = _cpu_tuple(kernel)
    else:
        tile = _resolve_tuple(kernel, device.index or 0, bucket(m), n)
    return tile if given == _NONE[kernel] else tuple(t if g is None else g for g, t in zip(given, tile))


_NONE = {k: (None,) * len(f) for k, f in FIELDS.items()}


@functools.cache
def _cpu_tuple(kernel: str) -> tuple:
    return tuple(CPU_TILES[kernel][f] for f in FIELDS[kernel])


@functools.cache
def _resolve_tuple(kernel: str, device_index: int, b: str, n: int) -> tuple:
    tile = _resolve(kernel, device_index, b, n)[0]
    return tuple(tile[f] for f in FIELDS[kernel])
