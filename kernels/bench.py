"""Benchmark on ``triton.testing.do_bench``: the course kernels against a device copy of the same
bytes.

``python -m kernels bench`` (``--help`` for the options) times a table of *providers*
(``_providers()``: a name, whose bytes it is charged, a factory of the call to time) in interleaved
rounds -- every provider once per round, the copy first -- so each ratio to the copy is taken under
the same conditions (clocks, temperature, neighbours). Stages, each written to its own JSON as soon
as it has data (a killed run keeps what it measured; ``--resume`` skips finished stages):

``--sweep``   tune: a small pruned set of tiles per kernel at one large and one small shape; writes
              ``tiles.json`` (the format kernels.tiles reads) and uses it for the stages after it;
(always)      targets: M=524,416 N=8,192 (every provider, lesson 09's baselines) and M=4,096
              N=7,168 (default arguments);
``--sizes``   sizes: M x N over SIZES_M x SIZES_N, each kernel by default call and kernel-only;
(last)        compile: torch.compile of two PyTorch formulations (``--no-compile`` skips it);
``--plot DIR`` plot the JSON in DIR as fractions of the copy (PNG; runs on a CPU).

Modes: ``call`` = do_bench of the call as a user makes it (L2 flushed before each call; host time
hidden while it is shorter than the flush); ``kernel`` = do_bench of a CUDA-graph replay of the same
call (device work only: the kernel and anything else it launches); ``loop`` = back-to-back calls
between two events (host time included once it exceeds the device time; at large M each loop lasts
about ``SUSTAINED_MS``, at most 2,000 calls). Bytes: ``bytes_moved``,
every byte read and written once. Output goes to results/tmp/ unless ``--out`` says otherwise.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import math
import inspect
import json
import linecache
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from collections.abc import Callable

import torch
import triton
import triton.language as tl

TARGET = (524_416, 8_192)
SMALL = (4_096, 7_168)
INT_COST_SHAPE = (200_000, 8_192)  # int32 still safe here: C1 max = 199,992 * 8,192 < 2**31
SIZES_M = (128, 1_024, 4_096, 32_768, 262_144, 524_416)
SIZES_N = (4_096, 7_168, 8_192)
DEFAULT_OUT = "results/tmp/bench"
# The pruned tile sets of the sweep (effective duplicates, after the launcher reduces groups to
# divisors of the row, are timed once). Colmajor: (block_m, groups_per_program, num_warps);
# packed (one packed word per program): (block_m, num_warps). The first of each is the built-in
# default. Several packed words per program measured slower on the H200 (0.64-0.80x a copy against
# 0.93x for one word: the first sweep, 2026-11-30), so the packed kernel keeps one.
CANDIDATES = {
    "colmajor": [(8, 8, 8), (8, 4, 4), (8, 8, 4), (4, 8, 4), (16, 4, 4), (4, 4, 4), (8, 2, 4),
                 (4, 2, 4), (8, 1, 4), (4, 1, 4), (2, 4, 2)],
    "packed": [(8, 4), (16, 4), (8, 2), (16, 2), (16, 8), (32, 4), (32, 8), (4, 2), (4, 4), (2, 1),
               (1, 1)],
}
CANDIDATES["colmajor_ue8m0"] = CANDIDATES["colmajor"]
STAGES_NUM = {"colmajor": 3, "colmajor_ue8m0": 3, "packed": 2}  # no loop to pipeline: fixed
# Every "loop" point at large M (the M > 16,384 bucket: tune, targets, sizes) runs back-to-back calls for
# about this long (at most 2,000 calls, Timer.loop), so that a kernel and a tile are judged over a stretch
# closer to a serving loop than a 25 ms burst. Whether 0.4 s reaches the power-limited state of
# clocks.json's six-second runs was not measured. Small M loops last a quarter of --rep-ms.
SUSTAINED_MS = 400


def bytes_moved(kernel: str, m: int, n: int) -> dict[str, int]:
    """Bytes one launch must read and write at least once: the floor any implementation pays."""
    g = n // 256
    scale_cols = -(-g // 4) if kernel == "packed" else g
    parts = {"read": m * n * 2, "write_q": m * (n // 2), "write_scales": m * scale_cols * 4}
    return parts | {"total": sum(parts.values())}


# ---------------------------------------------------------------------------------------------
# Baselines for lesson 09 (benchmark only)
# ---------------------------------------------------------------------------------------------
@triton.jit
def read_write_mix_kernel(x_ptr, q_ptr, s_ptr, M, N, half, s_stride, col_blocks,
                          BLOCK_M: tl.constexpr, GROUPS: tl.constexpr):
    """The fused kernels' memory traffic without their arithmetic, in the colmajor kernel's tile
    order: reads x [M, N] (2 bytes an element), writes one byte per output element [M, N/2] and one
    fp32 per (row, 128-column group). About 80 % of its bytes are reads, like the kernels'
    (a copy's: 50 %).
    """
    tile = tl.program_id(0).to(tl.int64)
    pid_m = tile // col_blocks
    pid_n = tile % col_blocks
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n * (GROUPS * 128) + tl.arange(0, GROUPS * 128)
    ok = rows < M
    offs = rows[:, None] * N + cols[None, :]
    g = tl.load(x_ptr + offs, mask=ok[:, None], other=0.0).to(tl.int16, bitcast=True)
    u = tl.load(x_ptr + offs + half, mask=ok[:, None], other=0.0).to(tl.int16, bitcast=True)
    tl.store(q_ptr + rows[:, None] * half + cols[None, :], (g ^ u).to(tl.int8), mask=ok[:, None])
    groups = pid_n * GROUPS + tl.arange(0, GROUPS)
    tl.store(s_ptr + groups[None, :] * s_stride + rows[:, None],
             (rows[:, None] + groups[None, :]).to(tl.float32), mask=ok[:, None])


def reference_alt(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A second PyTorch formulation of the colmajor quantization, written as it is often written
    (F.silu in the input dtype, amax over a [M, G, 128] view, one division): for torch.compile only.
    Not bit-identical to kernels.reference (silu rounds differently); same bytes in and out."""
    m, n = x.shape
    gate, up = x.chunk(2, dim=-1)
    y = (torch.nn.functional.silu(gate) * up).float().view(m, n // 256, 128)
    scale = y.abs().amax(dim=-1, keepdim=True).clamp_min(1e-10) / 448.0
    q = (y / scale).clamp(-448.0, 448.0).to(torch.float8_e4m3fn).view(m, n // 2)
    return q, scale.squeeze(-1).t().contiguous().t()


def kernel_variant(module, name: str, old: str | tuple[str, ...], new: str | tuple[str, ...],
                   tag: str):
    """The @triton.jit kernel `module.name` with the expression `old` replaced by `new`.

    For benchmark-only variants: the course kernel stays the one source, with named changes.
    `old` (or each of a tuple, replaced by the matching `new`) must occur exactly once."""
    src = textwrap.dedent(inspect.getsource(getattr(module, name).fn))
    if isinstance(old, tuple) != isinstance(new, tuple):
        raise TypeError("old and new must both be strings or both tuples of strings")
    olds, news = (old, new) if isinstance(old, tuple) else ((old,), (new,))
    if len(olds) != len(news) or not olds:
        raise ValueError(f"{len(olds)} expressions to replace, {len(news)} replacements")
    if not all(isinstance(t, str) and t for t in olds + news) or len(set(olds)) != len(olds):
        raise ValueError("each expression and replacement must be a non-empty string, each expression once")
    for o, n in zip(olds, news):
        if src.count(o) != 1:
            raise RuntimeError(f"{name}: expected exactly one {o!r} in the kernel source")
        if o == n:
            raise ValueError(f"{o!r} replaced by itself: the variant would be the kernel")
        src = src.replace(o, n)
    vname = f"{name}__{tag}"
    src = src.replace(f"def {name}(", f"def {vname}(")
    filename = f"<kernels.bench variant {vname}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)  # for inspect
    scope = dict(vars(module))
    exec(compile(src, filename, "exec"), scope)  # the source carries its own @triton.jit
    return scope[vname]


# ---------------------------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Provider:
    name: str
    label: str
    bytes_as: str                                   # whose byte count: "colmajor" or "packed"
    make: Callable[..., Callable[[], object]]     # make(x, fast) -> the call to time
    tile_of: str | None = None                      # kernels.tiles key, to record the tile used
    modes: tuple[str, ...] = ("call",)


def _fast_kwargs(fn) -> dict:
    """The launcher's own switches that skip host-side checks, where it has them."""
    params = inspect.signature(fn).parameters
    want = {"check_finite": False, "unsafe_skip_launch_checks": True}
    return {k: v for k, v in want.items() if k in params}


def _copy(x, fast=False):
    nb = bytes_moved("colmajor", *x.shape)["total"] // 2
    src = torch.empty(nb, dtype=torch.uint8, device=x.device)
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


def _course(kernel: str, **kw):
    """The launcher as a user calls it (fast=False: default arguments, every host check on), or with
    its host checks off (fast=True: what the kernel-only mode captures in a CUDA graph)."""
    def make(x, fast=False):
        import kernels
        f = kernels.silu_mul_fp8_packed if kernel == "packed" else kernels.silu_mul_fp8_colmajor
        more = _fast_kwargs(f) if fast else {}
        return lambda: f(x, **kw, **more)
    return make


def _mix(x, fast=False):
    from . import tiles
    from .reference import mn_major
    m, n = x.shape
    t = tiles.resolve("colmajor", x.device, m, n)
    g = n // 256
    gpp = min(t["groups_per_program"], g & -g)  # a power-of-two divisor of g
    q = torch.empty(m, n // 2, dtype=torch.int8, device=x.device)
    s = mn_major(m, g, torch.float32, x.device)
    grid = (triton.cdiv(m, t["block_m"]) * (g // gpp),)

    def fn():
        read_write_mix_kernel[grid](x, q, s, m, n, n // 2, s.stride(1), g // gpp,
                                    BLOCK_M=t["block_m"], GROUPS=gpp, num_warps=t["num_warps"])
    fn.outputs = (q, s)
    return fn


def _variant(kernel: str, old: str | tuple[str, ...], new: str | tuple[str, ...], tag: str, **kw):
    """The course kernel with one expression replaced (kernel_variant), launched through its own
    launcher with host checks off: the difference in time is what that expression costs."""
    def make(x, fast=False):
        import kernels
        from . import colmajor, packed
        mod, name, f = ((packed, "silu_mul_fp8_packed_kernel", kernels.silu_mul_fp8_packed)
                        if kernel == "packed" else
                        (colmajor, "silu_mul_fp8_colmajor_kernel", kernels.silu_mul_fp8_colmajor))
        var = kernel_variant(mod, name, old, new, tag)
        orig = getattr(mod, name)

        def call():
            setattr(mod, name, var)
            try:
                return f(x, **kw, **_fast_kwargs(f))
            finally:
                setattr(mod, name, orig)
        # guard: the launcher must really have run the variant -- it compiles its own kernel
        call()
        if not _compiled_anything(var):
            raise RuntimeError(f"{name}: the {tag} variant was not launched (launcher changed?)")
        return call
    return make


def _compiled_anything(jit_fn) -> bool:
    """Whether a @triton.jit function has run (compiled, or run by the interpreter) in this process."""
    caches = getattr(jit_fn, "device_caches", None)
    if caches is None:                       # the interpreter keeps no cache: trust the swap
        return True
    return any(len(c[0]) for c in caches.values())


# kernels.gpu_math's steps spelled as upstream spells them: tl.exp(-g), the clamp to +-448 before the
# fp8 cast, and (packed) the bf16 rounding one value at a time (lesson 09, "Fewer instructions, the
# same bits": the kernels before it)
PLAIN = {
    "colmajor": (("gpu_math.exp_neg(g)", "gpu_math.clamp_e4m3(ys)"),
                 ("tl.exp(-g)", "tl.minimum(tl.maximum(ys, -FP8_MAX), FP8_MAX)")),
    "packed": (("gpu_math.round_bf16(g / (1.0 + gpu_math.exp_neg(g)) * u, not SOFTWARE_FP8)",
                "gpu_math.clamp_e4m3(y * tl.exp2(-e)[:, :, None])"),
               ("(g / (1.0 + tl.exp(-g)) * u).to(tl.bfloat16).to(tl.float32)",
                "tl.minimum(tl.maximum(y * tl.exp2(-e)[:, :, None], -FP8_MAX), FP8_MAX)")),
}


# The packed kernel with upstream's structure (lesson 09, "The word as one tile"): a loop over the
# word's four groups, each loaded, quantized and stored before the next one is loaded, instead of
# one [BLOCK_M, 4, 128] tile (upstream skips a group past the row with `if group_id < NUM_GROUPS:`;
# this loop masks it, as the course's kernel did before the tile). Same spelling as the kernel
# (kernels.gpu_math), so only the structure differs. The loop repeats the kernel's arithmetic on
# purpose (a loop cannot reuse the tile's lines); the tests check that the variant gives the
# kernel's bits and reads and writes exactly what the kernel does.
_GROUP_LOOP = """\
    k = tl.arange(0, GROUP)
    packed = tl.zeros([BLOCK_M], dtype=tl.int32)
    for j in tl.static_range(GROUPS_PER_WORD):
        gid = pid_p * GROUPS_PER_WORD + j
        live = gid < num_groups
        mask = row_ok[:, None] & live
        offs = x_row[:, None] + gid * GROUP + k[None, :]
        g = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        u = tl.load(x_ptr + offs + half, mask=mask, other=0.0).to(tl.float32)
        if HAS_CLAMP:
            g = tl.minimum(g, clamp_limit)
            u = tl.clamp(u, -clamp_limit, clamp_limit)
        y = gpu_math.round_bf16(g / (1.0 + gpu_math.exp_neg(g)) * u, not SOFTWARE_FP8)
        e = tl.ceil(tl.log2(tl.maximum(tl.max(tl.abs(y), axis=1) / FP8_MAX, PACKED_EPS)))
        q = gpu_math.clamp_e4m3(y * tl.exp2(-e)[:, None])
        fp8.store_e4m3(q_ptr + q_row[:, None] + gid * GROUP + k[None, :], q, mask, SOFTWARE_FP8)
        byte = tl.minimum(tl.maximum(e + UE8M0_BIAS, 0.0), 255.0).to(tl.int32)
        packed = packed | (tl.where(live, byte, 0) << (8 * j))"""


def group_loop() -> tuple[str, str]:
    """(the kernel's word-tile block, upstream's loop over the groups): kernel_variant's old and new."""
    from . import packed
    src = textwrap.dedent(inspect.getsource(packed.silu_mul_fp8_packed_kernel.fn))
    start = src.index("    j = tl.arange(0, GROUPS_PER_WORD)\n")   # the block: from the group axis
    end = src.index("\n", src.index("    packed = tl.reduce("))    # to the packed word
    return src[start:end], _GROUP_LOOP


def _plain(kernel: str, **kw):
    return _variant(kernel, *PLAIN[kernel], "plain", **kw)


# exp(-g) -> g*g: an FMA-pipe stand-in of the same shape; the time saved is the exp's cost
_no_exp = functools.partial(_variant, old="gpu_math.exp_neg(g)", new="(g * g)", tag="no_exp")


def _compiled(fn):
    def make(x, fast=False):
        c = torch.compile(fn)
        c(x)  # compile outside the timing
        return lambda: c(x)
    return make


def _providers() -> dict[str, Provider]:
    from .reference import silu_mul_fp8_colmajor_ref
    ps = [
        Provider("copy", "device copy of the same bytes", "colmajor", _copy,
                 modes=("call", "kernel", "loop")),
        Provider("mix_baseline", "Triton: read x, write a quarter as much (no arithmetic)",
                 "colmajor", _mix, "colmajor", ("call", "kernel")),
        Provider("colmajor", "course colmajor (fp32 scales)", "colmajor", _course("colmajor"),
                 "colmajor", ("call", "kernel", "loop")),
        Provider("colmajor_ue8m0", "course colmajor, UE8M0 scales", "colmajor",
                 _course("colmajor", use_ue8m0=True), "colmajor_ue8m0", ("call", "kernel", "loop")),
        Provider("packed", "course packed (UE8M0, 4 per int32)", "packed", _course("packed"),
                 "packed", ("call", "kernel", "loop")),
        Provider("colmajor_plain", "BENCHMARK ONLY: colmajor spelled as upstream (tl.exp, clamp)",
                 "colmajor", _plain("colmajor"), "colmajor", ("call", "kernel")),
        Provider("colmajor_ue8m0_plain", "BENCHMARK ONLY: colmajor UE8M0 spelled as upstream",
                 "colmajor", _plain("colmajor", use_ue8m0=True), "colmajor_ue8m0", ("call", "kernel")),
        Provider("packed_plain", "BENCHMARK ONLY: packed spelled as upstream (tl.exp, clamp)", "packed",
                 _plain("packed"), "packed", ("call", "kernel")),
        Provider("packed_group_loop", "BENCHMARK ONLY: packed looping over its word's four groups "
                 "(upstream's structure)", "packed", _variant("packed", *group_loop(), "group_loop"),
                 "packed", ("call", "kernel")),
        Provider("colmajor_no_exp", "BENCHMARK ONLY: colmajor with exp(-g) -> g*g", "colmajor",
                 _no_exp("colmajor"), "colmajor", ("call", "kernel")),
        Provider("packed_no_exp", "BENCHMARK ONLY: packed with exp(-g) -> g*g", "packed",
                 _no_exp("packed"), "packed", ("call", "kernel")),
        Provider("colmajor_ue8m0_div", "BENCHMARK ONLY: colmajor UE8M0 dividing by 2**e (upstream)",
                 "colmajor", _variant("colmajor", "y * tl.exp2(-e)[:, :, None]",
                                      "y / scale[:, :, None]", "div", use_ue8m0=True),
                 "colmajor_ue8m0", ("call", "kernel")),
        Provider("packed_div", "BENCHMARK ONLY: packed dividing by 2**e (upstream)", "packed",
                 _variant("packed", "y * tl.exp2(-e)[:, :, None]", "y / tl.exp2(e)[:, :, None]", "div"),
                 "packed", ("call", "kernel")),
        Provider("compile_ref", "torch.compile(kernels.reference colmajor)", "colmajor",
                 _compiled(silu_mul_fp8_colmajor_ref)),
        Provider("compile_alt", "torch.compile(bench.reference_alt: F.silu, one division)",
                 "colmajor", _compiled(reference_alt)),
    ]
    return {p.name: p for p in ps}


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
class Timer:
    """do_bench on a GPU; a plain wall clock in --dry-run on the CPU tier (checks the plumbing)."""

    def __init__(self, gpu: bool, rep_ms: int):
        self.gpu, self.rep_ms = gpu, rep_ms

    def call(self, fn) -> float:
        if not self.gpu:
            return self._wall(fn)
        from triton.testing import do_bench
        return do_bench(fn, warmup=max(5, self.rep_ms // 4), rep=self.rep_ms,
                        return_mode="median") * 1e3

    def kernel(self, fn) -> float:
        if not self.gpu:
            return self._wall(fn)
        fn()
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        try:
            return self.call(g.replay)
        finally:
            del g

    def loop(self, fn, ms: float | None = None) -> tuple[float, float]:
        """(µs per call between events, µs of host time per call) over back-to-back calls lasting about
        `ms` milliseconds (default: a quarter of rep_ms)."""
        if not self.gpu:
            us = self._wall(fn)
            return us, us
        fn()
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        k = max(3, min(2_000, int((ms or self.rep_ms / 4) / max(s.elapsed_time(e), 1e-3))))
        s.record()
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        host = (time.perf_counter() - t0) / k * 1e6
        e.record()
        torch.cuda.synchronize()
        return s.elapsed_time(e) / k * 1e3, host

    @staticmethod
    def _wall(fn, n: int = 3) -> float:
        fn()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(ts)


def environment(command: str) -> dict:
    from . import tiles, tier
    env = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": command, "torch": torch.__version__, "triton": triton.__version__,
           "python": platform.python_version(), "tier": "cpu" if tier.INTERPRETED else "gpu"}
    if not tier.INTERPRETED:
        p = torch.cuda.get_device_properties(0)
        env |= {"device": p.name, "capability": tiles.device_info(0)[1],
                "sms": p.multi_processor_count, "memory_mib": p.total_memory // 2**20,
                "cuda": torch.version.cuda,
                "l2_mib": getattr(p, "L2_cache_size", 0) / 2**20}
        try:
            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    else:
        env |= {"device": "cpu (Triton interpreter, dry run)", "capability": None}
    env["commit"] = None   # only when this folder is itself a git checkout (a copied tree may sit
    try:                   # inside another repository, whose HEAD says nothing about this code)
        root = Path(__file__).resolve().parents[1]
        top, head, dirty = (subprocess.run(["git", *a], capture_output=True, text=True, timeout=10,
                                           cwd=root).stdout.strip()
                            for a in (["rev-parse", "--show-toplevel"], ["rev-parse", "HEAD"],
                                      ["status", "--porcelain", "--untracked-files=no"]))
        if top and Path(top).resolve() == root:
            env["commit"] = head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def _large(m: int) -> bool:
    """Whether M is in the large bucket (kernels.tiles: M > 16,384), where loops last SUSTAINED_MS."""
    from . import tiles
    return tiles.bucket(m) != tiles.M_BUCKETS[0][0]


class Run:
    """One benchmark process: shared input tensors, the timer, the output folder, the clock."""

    def __init__(self, out: Path, gpu: bool, rounds: int, rep_ms: int, budget_s: float,
                 command: str, log=print):
        self.out, self.gpu, self.rounds = out, gpu, rounds
        self.timer = Timer(gpu, rep_ms)
        self.t0, self.budget_s = time.monotonic(), budget_s
        self.env = environment(command)
        self.log = log
        self.providers = _providers()
        self.device = torch.device("cuda" if gpu else "cpu")
        self._x: tuple[tuple[int, int], torch.Tensor] | None = None
        out.mkdir(parents=True, exist_ok=True)

    def left_s(self) -> float:
        return self.budget_s - (time.monotonic() - self.t0)

    def x(self, m: int, n: int) -> torch.Tensor:
        if self._x is None or self._x[0] != (m, n):
            self._x = None
            if self.gpu:
                torch.cuda.empty_cache()
            gen = torch.Generator(device=self.device).manual_seed(m * 7 + n)
            self._x = ((m, n), torch.randn(m, n, generator=gen, device=self.device,
                                           dtype=torch.bfloat16))
        return self._x[1]

    def save(self, name: str, data: dict) -> None:
        path = self.out / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.env | data, indent=1))
        os.replace(tmp, path)  # a reader never sees half a file

    def measure(self, m: int, n: int, cases: list[tuple[str, str, Callable, str, dict | None]],
                rounds: int | None = None) -> list[dict]:
        """cases: (record name, mode, fn, bytes_as, tile). Interleaved rounds, the copies first;
        returns one record per case with the median over rounds and the median ratio to the copy
        of the same mode and round. A "loop" lasts SUSTAINED_MS at large M."""
        rounds = rounds or self.rounds
        loop_ms = SUSTAINED_MS if self.gpu and _large(m) else None
        times: dict[int, list[float]] = {i: [] for i in range(len(cases))}
        host: dict[int, list[float]] = {i: [] for i in range(len(cases))}
        errors: dict[int, str] = {}
        for _ in range(rounds):
            for i, (_name, mode, fn, _, _) in enumerate(cases):
                if i in errors:
                    continue
                try:
                    if mode == "loop":
                        us, h = self.timer.loop(fn, loop_ms)
                        host[i].append(h)
                    else:
                        us = getattr(self.timer, mode)(fn)
                    times[i].append(us)
                except Exception as e:  # noqa: BLE001 -- recorded, e.g. a graph capture refused
                    errors[i] = f"{type(e).__name__}: {e}"[:300]
                    if self.gpu:
                        torch.cuda.synchronize()
        copy_of = {c[1]: i for i, c in enumerate(cases) if c[0] == "copy"}
        # A copy captured in a CUDA graph becomes a memcpy node that the copy engines run (H200:
        # 2.77 TB/s against 4.30 launched normally), so kernel-only times are set against the copy
        # launched normally (its host time is hidden behind do_bench's cache flush).
        if "call" in copy_of:
            copy_of["kernel"] = copy_of["call"]
        recs = []
        for i, (name, mode, _, bytes_as, tile) in enumerate(cases):
            r = {"name": name, "mode": mode, "M": m, "N": n,
                 "bytes": bytes_moved(bytes_as, m, n)["total"], "tile": tile}
            if i in errors and not times[i]:
                recs.append(r | {"error": errors[i]})
                continue
            if i in errors:   # it failed after some rounds: keep what it measured, marked as failed
                r["error"] = errors[i]
            us = statistics.median(times[i])
            r |= {"us": round(us, 2), "us_rounds": [round(t, 2) for t in times[i]],
                  "tbps": round(r["bytes"] / us / 1e6, 4)}
            if host[i]:
                r["host_us"] = round(statistics.median(host[i]), 2)
            j = copy_of.get(mode)
            if j is not None and name != "copy" and len(times[j]) == len(times[i]):
                cb = bytes_moved("colmajor", m, n)["total"]
                r["vs_copy"] = round(statistics.median(
                    (r["bytes"] / a) / (cb / c) for a, c in zip(times[i], times[j])), 4)
                r["time_vs_copy"] = round(statistics.median(
                    a / c for a, c in zip(times[i], times[j])), 4)
            recs.append(r)
        return recs

    def cases(self, names, m: int, n: int, modes=None) -> list[tuple]:
        """Build the cases of `names` on x [m, n] (a provider that fails to build is recorded)."""
        from . import tiles
        x = self.x(m, n)
        out = []
        for name in names:
            p = self.providers[name]
            tile = tiles.explain(p.tile_of, x.device, m, n) if p.tile_of else None
            for mode in (modes or p.modes):
                if mode not in p.modes or (mode == "kernel" and not self.gpu):
                    continue
                try:
                    fn = p.make(x, fast=mode == "kernel")
                except Exception as e:  # noqa: BLE001 -- e.g. torch.compile unavailable
                    self.log(f"  {name}: cannot build ({type(e).__name__}: {str(e)[:200]})")
                    fn = _raiser(e)
                out.append((name, mode, fn, p.bytes_as, tile))
        return out


def _raiser(e: Exception):
    def f():
        raise e
    return f


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------
def _effective(kernel: str, n: int, cand: tuple) -> dict:
    import math
    if kernel == "packed":
        bm, w = cand
        return {"block_m": bm, "num_warps": w, "num_stages": STAGES_NUM[kernel]}
    bm, per, w = cand
    g = n // 256
    return {"block_m": bm, "groups_per_program": math.gcd(g, per), "num_warps": w,
            "num_stages": STAGES_NUM[kernel]}


def fastest_every_round(records: list[dict]) -> dict:
    """The record (one tile each, same kernel and shape) whose slowest round was the fastest.

    Not the best median: on the H200 a tile's speed can switch between rounds (an example in
    docs/tuning.md, "Tune your own GPU"), and a tile that is fast in two rounds of three is not a tile
    to ship."""
    return min(records, key=lambda r: (max(r["us_rounds"]), r["us"]))


def stage_tune(run: Run, shapes, candidates=None) -> dict:
    """Time every candidate tile of every kernel at each shape (large M: back-to-back calls; small M:
    the kernel alone); the tile whose slowest round is the fastest wins its M bucket (for that N):
    :func:`fastest_every_round`. Writes tune.json (everything) and tiles.json (the table)."""
    import kernels
    from . import tiles
    candidates = candidates or CANDIDATES
    table = {"format": tiles.FORMAT, "device": run.env["device"],
             "capability": run.env.get("capability"), "tiles": {}}
    records = []
    for m, n in shapes:
        x = run.x(m, n)
        # Large M: back-to-back calls without an L2 flush, the way a serving loop runs a launch of
        # milliseconds, for SUSTAINED_MS each; small M: the kernel alone (a CUDA-graph replay), where
        # the host would otherwise decide. Each against the copy in the same mode.
        mode = "loop" if run.gpu and _large(m) else ("kernel" if run.gpu else "call")
        cases = run.cases(["copy"], m, n, modes=("call", "loop") if mode == "loop" else ("call",))
        copies = len(cases)
        seen = set()
        for kernel, cands in candidates.items():
            launch = (kernels.silu_mul_fp8_packed if kernel == "packed"
                      else kernels.silu_mul_fp8_colmajor)
            extra = {"use_ue8m0": True} if kernel == "colmajor_ue8m0" else {}
            for c in cands:
                t = _effective(kernel, n, c)
                key = (kernel, tuple(t.values()))
                if key in seen:
                    continue
                seen.add(key)
                fn = (lambda f=launch, t=t, e=extra: f(x, **t, **e, **_fast_kwargs(f)))
                cases.append((kernel, mode, fn,
                              "packed" if kernel == "packed" else "colmajor",
                              {"tile": t, "source": "sweep"}))
        run.log(f"tune M={m:,} N={n:,}: {len(cases) - copies} tiles x {run.rounds} rounds ({mode})")
        recs = run.measure(m, n, cases)
        records += recs
        for kernel in candidates:
            ok = [r for r in recs if r["name"] == kernel and "tbps" in r and "error" not in r]
            if not ok:
                continue
            best = fastest_every_round(ok)
            table["tiles"].setdefault(kernel, {}).setdefault(tiles.bucket(m), {})[str(n)] = \
                best["tile"]["tile"]
            run.log(f"  {kernel:<15} best {best['tile']['tile']} {best['tbps']:.3f} TB/s "
                    f"({best.get('vs_copy', float('nan')):.3f}x copy)")
        run.save("tune.json", {"stage": "tune", "records": records,
                               "complete": (m, n) == tuple(shapes[-1])})
        run.save("tiles.json", table)  # partial tables are valid tables
    tiles.check_table(table)
    tiles.use_table(run.out / "tiles.json")
    return table


def stage_targets(run: Run, target=TARGET, small=SMALL, int_shape=INT_COST_SHAPE) -> list[dict]:
    """The issue's two target shapes, lesson 09's baselines, and the int32-vs-int64 cost."""
    import kernels
    from . import tiles
    records = []

    def save(complete=False):
        run.save("targets.json", {"stage": "targets", "records": records, "complete": complete})

    plain = ["colmajor_plain", "colmajor_ue8m0_plain", "packed_plain"]
    names = ["copy", "mix_baseline", "colmajor", "colmajor_ue8m0", "packed", *plain,
             "packed_group_loop", "colmajor_no_exp", "packed_no_exp", "colmajor_ue8m0_div", "packed_div"]
    run.log(f"targets M={target[0]:,} N={target[1]:,}")
    records += run.measure(*target, run.cases(names, *target), rounds=run.rounds + 2)
    save()
    run.log(f"targets M={small[0]:,} N={small[1]:,} (default arguments)")
    records += run.measure(*small, run.cases(["copy", "mix_baseline", "colmajor", "colmajor_ue8m0",
                                              "packed", *plain, "packed_group_loop"], *small),
                           rounds=run.rounds + 2)
    save()
    m, n = int_shape
    x = run.x(m, n)
    cases = run.cases(["copy"], m, n, modes=("call",))
    for kernel, launch in (("colmajor", kernels.silu_mul_fp8_colmajor),
                           ("packed", kernels.silu_mul_fp8_packed)):
        t = dict(tiles.CPU_TILES[kernel])  # the same tile for both, so only the index type differs
        if "groups_per_program" in t:      # explicit values must divide N/256
            t["groups_per_program"] = math.gcd(n // 256, t["groups_per_program"])
        for index in ("int32", "int64"):
            cases.append((f"{kernel}_{index}", "call",
                          lambda f=launch, i=index, t=t: f(x, index=i, **t, **_fast_kwargs(f)),
                          kernel, {"tile": t, "source": "fixed (CPU tile)"}))
    run.log(f"int32 vs int64 at M={m:,} N={n:,}")
    records += run.measure(m, n, cases)
    save(complete=True)
    return records


def stage_compile(run: Run, target=TARGET) -> list[dict]:
    """torch.compile of two PyTorch formulations at the target shape (last: compiling takes a
    while, and the budget decides whether it runs). Written to compile.json."""
    records = []
    for name in ("compile_ref", "compile_alt"):
        if run.left_s() < 120:
            run.log(f"  skip {name}: {run.left_s():.0f} s of the budget left")
            continue
        run.log(f"torch.compile: {name}")
        records += run.measure(*target, run.cases(["copy", name], *target))
        run.save("compile.json", {"stage": "compile", "records": records, "complete": False})
    run.save("compile.json", {"stage": "compile", "records": records, "complete": True})
    return records


def stage_sizes(run: Run, ms=SIZES_M, ns=SIZES_N, resume: list[dict] | None = None) -> list[dict]:
    """Every (M, N): the three kernels by default call ('call', 'loop') and kernel-only ('kernel'),
    each against a copy of the same bytes in the same mode, and the mix baseline (the kernels' own
    traffic without their arithmetic: a reference point for this read:write mix at this size, not a
    bound). Largest shapes last; saved per shape."""
    records = list(resume or [])
    done = {(r["M"], r["N"]) for r in records}
    shapes = [(m, n) for m in ms for n in ns]
    for m, n in shapes:
        if (m, n) in done:
            continue
        if run.left_s() < 20:
            run.log(f"sizes: budget spent, stopping before M={m:,} N={n:,}")
            break
        run.log(f"sizes M={m:,} N={n:,}")
        records += run.measure(m, n, run.cases(["copy", "mix_baseline", "colmajor",
                                                "colmajor_ue8m0", "packed"], m, n))
        have = {(r["M"], r["N"]) for r in records}
        run.save("sizes.json", {"stage": "sizes", "records": records,
                                "complete": len(have) == len(shapes)})
    return records


# ---------------------------------------------------------------------------------------------
# Plots (CPU is enough: they read the JSON)
# ---------------------------------------------------------------------------------------------
def sizes_figure(res: dict):
    """The size sweep (a sizes.json record) as fractions of the copy: one panel per kernel, one
    colour per N, one line style per mode; the red dotted line is issue 10's 0.90, the grey lines
    the mix baseline (same traffic, no arithmetic; kernel-only), one per N, where recorded."""
    import matplotlib.pyplot as plt
    recs = [r for r in res["records"] if "vs_copy" in r]
    kinds = ["colmajor", "colmajor_ue8m0", "packed"]
    ns = sorted({r["N"] for r in recs})
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red")

    def points(name, n, mode):
        return sorted((r["M"], r["vs_copy"]) for r in recs
                      if r["name"] == name and r["N"] == n and r["mode"] == mode)

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, kernel in zip(axes, kinds):
        for n, color in zip(ns, colors):
            for mode, style in (("call", "-"), ("kernel", "--"), ("loop", ":")):
                if pts := points(kernel, n, mode):
                    ax.plot(*zip(*pts), style, marker="o", ms=3, color=color,
                            label=f"N={n:,} {mode}")
        mix_label = "mix baseline (kernel-only)"   # one legend entry, last, for the grey lines
        for n in ns:
            if pts := points("mix_baseline", n, "kernel"):
                ax.plot(*zip(*pts), color="grey", lw=2.5, alpha=0.35, zorder=0, label=mix_label)
                mix_label = None
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.axhline(0.9, color="red", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("M (rows)")
        ax.set_title(kernel, fontsize=10)
    axes[0].set_ylabel("throughput / device copy's (same bytes;\nkernel-only vs the copy's call)")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{res.get('device', '?')}, {res.get('date', '')[:10]}: call = default call "
                 "(do_bench), kernel = CUDA-graph replay, loop = back-to-back calls", fontsize=9)
    fig.tight_layout()
    return fig


class RecordingError(ValueError):
    """A file given to --plot is not a bench recording (hand-edited, truncated, another tool's)."""


def plot(folder: str | os.PathLike) -> list[str]:
    """Plot DIR/sizes.json and DIR/targets.json (whichever exist); the paths written. A folder with
    neither, or a file that is not a bench recording, raises RecordingError with what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordingError(f"{folder} is not a folder")
    made = []
    for name in ("sizes.json", "targets.json"):
        path = folder / name
        if not path.exists():
            continue
        try:
            made.append(_plot_one(folder, name, json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            raise RecordingError(f"{path} is not a bench recording this can plot "
                                 f"({type(e).__name__}: {e})") from e
    if not made:
        raise RecordingError(f"{folder} has no sizes.json or targets.json to plot")
    return made


def _plot_one(folder: Path, name: str, res: dict) -> str:
    """The PNG of one recording (sizes.json or targets.json) in `folder`; its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if name == "sizes.json":
        fig = sizes_figure(res)
        fig.savefig(folder / "sizes.png", dpi=110)
        plt.close(fig)
        return str(folder / "sizes.png")
    else:
        m, n = res["records"][0]["M"], res["records"][0]["N"]
        more = (json.loads((folder / "compile.json").read_text())["records"]
                if (folder / "compile.json").exists() else [])
        # one bar per provider: its kernel-only time where measured (the default call's host
        # path is lesson 09's other topic), else its call; the copy as launched normally
        recs = {}
        for r in res["records"] + [r for r in more if r["name"] != "copy"]:
            if r["M"] == m and r["N"] == n and "tbps" in r and r["mode"] != "loop" and not (
                    r["name"] == "copy" and r["mode"] != "call") and (
                    r["name"] not in recs or r["mode"] == "kernel"):
                recs[r["name"]] = r
        recs = list(recs.values())
        recs.sort(key=lambda r: r["tbps"])
        fig, ax = plt.subplots(figsize=(8, 0.4 * len(recs) + 1.2))
        ax.barh(range(len(recs)), [r["tbps"] for r in recs],
                color=["grey" if r["name"] == "copy" else "tab:blue" for r in recs])
        ax.set_yticks(range(len(recs)), [f"{r['name']} ({r['mode']})" for r in recs], fontsize=8)
        for i, r in enumerate(recs):
            ax.text(r["tbps"], i, f" {r['tbps']:.2f}" + (f" ({r['vs_copy']:.2f}x)" if "vs_copy" in r
                                                          else ""), va="center", fontsize=8)
        ax.set_xlabel("TB/s (bytes read + written, kernels.bench.bytes_moved)")
        ax.set_title(f"M={m:,} N={n:,} on {res.get('device', '?')} ({res.get('date', '')[:10]})",
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(folder / "targets.png", dpi=110)
        plt.close(fig)
        return str(folder / "targets.png")


# ---------------------------------------------------------------------------------------------
# Command line (python -m kernels bench)
# ---------------------------------------------------------------------------------------------
def _at_least(low: float, kind=int):
    """An argparse type: a number of `kind` >= low, or a clear usage error (not a silent dry run)."""
    import argparse

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or not v >= low:
            raise argparse.ArgumentTypeError(f"must be a number >= {low}, got {text!r}")
        return v
    return parse


def add_arguments(b) -> None:
    b.add_argument("--out", default=None,
                   help=f"folder for the JSON (default {DEFAULT_OUT}, ignored by git; "
                        "writing under results/gpu/ needs this option)")
    b.add_argument("--sweep", action="store_true",
                   help="first tune the tiles (pruned set) and write tiles.json, then use it")
    b.add_argument("--sizes", action="store_true", help="also the M x N size sweep")
    b.add_argument("--rounds", type=_at_least(1), default=3, help="interleaved rounds (targets: +2)")
    b.add_argument("--rep-ms", type=_at_least(1), default=100, help="do_bench's rep per measurement")
    b.add_argument("--budget-s", type=_at_least(0, float), default=450.0,
                   help="stop optional work (torch.compile, remaining sizes) past this")
    b.add_argument("--no-compile", action="store_true", help="skip the torch.compile baselines")
    b.add_argument("--resume", action="store_true",
                   help="skip stages whose JSON in --out is complete; continue the size sweep")
    b.add_argument("--plot", metavar="DIR", help="only plot DIR/{sizes,targets}.json (CPU is fine)")
    b.add_argument("--dry-run", action="store_true",
                   help="tiny shapes, wall-clock timer: checks the plumbing on the CPU tier")


def main(a) -> int:
    from . import tier
    if a.plot:
        try:
            made = plot(a.plot)
        except RecordingError as e:
            print(f"bench --plot: {e}")
            return 2
        for p in made:
            print("wrote", p)
        return 0
    if not a.dry_run and tier.INTERPRETED:
        print("bench needs a CUDA GPU (or --dry-run); recorded results: results/gpu/")
        return 6
    out = Path(a.out or DEFAULT_OUT)
    command = "python -m kernels bench " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else [])
    run = Run(out, not tier.INTERPRETED, 1 if a.dry_run else a.rounds, a.rep_ms, a.budget_s,
              command.strip(), log=lambda s: print(s, flush=True))
    dry = a.dry_run

    def complete(name):
        p = out / name
        return a.resume and p.exists() and json.loads(p.read_text()).get("complete")

    if a.sweep:
        if complete("tune.json") and (out / "tiles.json").exists():
            from . import tiles
            tiles.use_table(out / "tiles.json")
            print("tune: complete, using", out / "tiles.json")
        else:
            stage_tune(run, [(64, 2_048), (16, 1_536)] if dry else [TARGET, SMALL],
                       {k: v[:3] for k, v in CANDIDATES.items()} if dry else None)
    if not complete("targets.json"):
        if dry:
            stage_targets(run, (64, 2_048), (16, 1_536), (24, 1_024))
        else:
            stage_targets(run)
    if a.sizes:
        prev = out / "sizes.json"
        resume = json.loads(prev.read_text())["records"] if a.resume and prev.exists() else None
        run.rounds = max(2, run.rounds - 1) if not dry else 1
        if dry:
            stage_sizes(run, (8, 40), (512, 2_048), resume)
        else:
            stage_sizes(run, resume=resume)
    if not (a.no_compile or dry or complete("compile.json")):
        stage_compile(run)
    summary(out)
    print(f"{run.env['device']}, torch {run.env['torch']}, triton {run.env['triton']}: "
          f"{time.monotonic() - run.t0:.0f} s -> {out}")
    return 0


def summary(out: Path) -> None:
    """A short table of what matters (the reply of a GPU run carries only the end of its output)."""
    for name in ("tiles.json", "targets.json", "compile.json", "sizes.json"):
        p = out / name
        if not p.exists():
            continue
        res = json.loads(p.read_text())
        if name == "tiles.json":
            for k, by_b in res["tiles"].items():
                print(f"tile {k:<15} " + "; ".join(f"{b} N={n}: {t}" for b, byn in by_b.items()
                                                   for n, t in byn.items()))
            continue
        print(f"-- {name}")
        for r in res["records"]:
            if name == "sizes.json" and r["name"] == "copy":
                continue
            if "error" in r:
                print(f"{r['name']:<16} {r['mode']:<6} M={r['M']:>7} N={r['N']:>5} "
                      f"{r['error'][:80]}")
                continue
            print(f"{r['name']:<16} {r['mode']:<6} M={r['M']:>7} N={r['N']:>5} {r['us']:>10.1f} us "
                  f"{r['tbps']:>6.3f} TB/s"
                  + (f" {r['vs_copy']:.3f}x copy" if "vs_copy" in r else "")
                  + (f" host {r['host_us']:.1f} us" if "host_us" in r else ""))
