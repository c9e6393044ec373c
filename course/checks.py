"""Self-checks for the exercises: ``check_<id>(learner_fn)`` prints ✅ or ❌ and returns a Result.

Every check runs small shapes (fast on the CPU tier, Triton's interpreter) and on a GPU alike. A ❌
says what is wrong in terms the learner can act on: shapes and dtypes, the worst element and its
index, expected vs got, which rows or programs are wrong, and the overflow or layout explanation
when that is the cause. A stub that still raises ``NotImplementedError`` gives ❌ "not implemented
yet", never a traceback. The outcome is recorded in the progress file (course.exercises).

Triton helpers (``@triton.jit`` functions the learner writes) are checked by calling them from a
small harness kernel here, which stores what they return; offsets are *stored*, never dereferenced,
so a wrong offset cannot crash the notebook.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import traceback

import torch

from kernels import tier  # first: it chooses the tier before Triton defines anything
from kernels import offsets as koff  # noqa: I001
from kernels import reference as ref
from kernels.compare import ulp_diff_f32

import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from . import exercises

DEV = tier.DEVICE
TIER = "cpu" if tier.INTERPRETED else "gpu"
INT32_MAX = koff.INT32_MAX
_RECORD = True


def record_progress(on: bool) -> None:
    """Turn recording of check outcomes on or off (the reference solutions turn it off)."""
    global _RECORD
    _RECORD = bool(on)


@dataclasses.dataclass
class Result:
    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"✅ {self.exercise}: {self.message}"
        return f"❌ {self.exercise}: {self.message}\n   stuck? hint(\"{self.exercise}\") shows the next hint"

    def __repr__(self) -> str:
        return f"Result({self.exercise!r}, ok={self.ok})"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: the check has printed its verdict already."""


class Fail(Exception):
    """Raised inside a check with the diagnosis."""


class NotYet(Exception):
    """The learner's code still raises NotImplementedError."""


def _run(ex_id: str, body, fn) -> Result:
    try:
        if fn is None:
            raise Fail("pass your function, e.g. check_%s(%s)" % (ex_id, ex_id))
        if _is_stub(fn):
            raise NotYet
        msg = body(fn)
        res = Result(ex_id, True, msg)
    except NotYet:
        res = Result(ex_id, False, "not implemented yet: replace the `raise NotImplementedError(...)` "
                                   "with your code, re-run that cell, then this one")
    except Fail as e:
        res = Result(ex_id, False, str(e))
    except Exception as e:  # noqa: BLE001 -- a learner's bug becomes a diagnosis, not a crash
        if _caused_by_stub(e):
            res = Result(ex_id, False, "not implemented yet: something you call still raises "
                                       "NotImplementedError (an earlier exercise of this notebook?)")
        else:
            res = Result(ex_id, False, f"your code raised {_describe_exc(e)}")
    print(res)
    if _RECORD:
        exercises.record(ex_id, res.ok)
    return res


def _pyfunc(fn):
    return getattr(fn, "fn", fn)  # a @triton.jit function wraps the Python one


def _is_stub(fn) -> bool:
    try:
        src = inspect.getsource(_pyfunc(fn))
    except (OSError, TypeError):
        return False
    return "raise NotImplementedError" in src


def _caused_by_stub(e: BaseException) -> bool:
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, NotImplementedError) or "NotImplementedError" in str(e)[:500]:
            return True
        e = e.__cause__ or e.__context__
    return False


def _describe_exc(e: BaseException) -> str:
    inner = e.__cause__ or e
    first = (str(inner).strip().splitlines() or [""])[0][:300]
    where = ""
    tb = traceback.extract_tb(inner.__traceback__)
    if tb:
        fr = tb[-1]
        where = f" (in {fr.name}, line {fr.lineno}: {(fr.line or '').strip()[:80]})"
    return f"{type(inner).__name__}: {first}{where}"


def _ranges(idx) -> str:
    idx = sorted(set(int(i) for i in idx))
    out, start = [], None
    for a, b in zip(idx, idx[1:] + [None]):
        start = a if start is None else start
        if b != a + 1:
            out.append(f"{start}" if start == a else f"{start}-{a}")
            start = None
    return ", ".join(out[:6]) + (", ..." if len(out) > 6 else "")


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(shape, dtype, seed, scale=1.0):
    return (torch.randn(*shape, generator=_seeded(seed)) * scale).to(dtype).to(DEV)


# ---------------------------------------------------------------- 1.1 / 1.2 silu * up

def _t_step_diff(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """|got - want| in units of the last place of their dtype (bf16/fp16), as int64."""
    gi = got.contiguous().view(torch.int16).to(torch.int64)
    wi = want.contiguous().view(torch.int16).to(torch.int64)
    gi = torch.where(gi < 0, -(gi & 0x7FFF), gi)
    wi = torch.where(wi < 0, -(wi & 0x7FFF), wi)
    return (gi - wi).abs()


def _silu_mul_alternatives(x: torch.Tensor) -> dict[str, torch.Tensor]:
    h = x.shape[1] // 2
    g, u, t = x[:, :h].float(), x[:, h:].float(), x.dtype
    return {
        "you multiplied in fp32 and rounded once: the colmajor path rounds silu(gate) to the input "
        "dtype T first, then rounds the product to T again (vLLM matches its C++ silu_and_mul)":
            (ref.silu_fp32(g) * u).to(t),
        "gate and up are swapped: gate is columns [0, N/2), up is columns [N/2, N)":
            (ref.silu_fp32(u).to(t).float() * g).to(t),
        "you wrote silu as g * sigmoid(g); the kernels compute g / (1 + exp(-g)), which rounds "
        "differently": (g * torch.sigmoid(g)).to(t).float().mul(u).to(t),
    }


def _compare_y(got: torch.Tensor, x: torch.Tensor, what: str) -> None:
    want = ref.colmajor_y(x).to(x.dtype)
    if got.shape != want.shape or got.dtype != want.dtype:
        raise Fail(f"{what}: got {tuple(got.shape)} {got.dtype}, expected {tuple(want.shape)} {want.dtype} "
                   f"(y is [M, N/2] in the input's dtype)")
    got, want = got.cpu(), want.cpu()
    bad_nan = ~torch.isfinite(got.float())
    steps = _t_step_diff(got, want)
    steps[bad_nan] = 1 << 20
    # CPU tier: identical. GPU: tl.exp is approximate, so accept exactly the values the reference
    # gives with exp at either end of the GPU's error bound (kernels.reference.gpu_envelope).
    slacks = (0,) if TIER == "cpu" else (-1, 0, 1)
    ok = torch.zeros_like(bad_nan)
    for sl in slacks:
        ok |= got.view(torch.int16) == ref.colmajor_y(x.cpu(), sl).to(x.dtype).view(torch.int16)
    steps[ok] = 0
    limit = 0
    nbad = ndiff = int((steps > limit).sum())
    if nbad == 0:
        return
    for why, alt in _silu_mul_alternatives(x.cpu()).items():
        if torch.equal(alt.view(torch.int16), got.view(torch.int16)):
            raise Fail(f"{what}: {why}")
    flat = int(steps.flatten().argmax())
    r, c = divmod(flat, got.shape[1])
    rows = (steps > limit).any(dim=1).nonzero().flatten().tolist() or \
        (steps > 0).any(dim=1).nonzero().flatten().tolist()
    m = got.shape[0]
    tail = ""
    if bad_nan.any():
        tail = (" Some elements are NaN, i.e. never written (y starts out NaN): does every program "
                "store its whole block, and does the grid cover all cdiv(M, BLOCK_M) row blocks?")
    raise Fail(f"{what}: {ndiff:,} of {got.numel():,} elements differ in rows {_ranges(rows)} (of M={m}); "
               f"worst at row {r}, column {c}: expected {want[r, c].item():g}, got {got[r, c].item():g}."
               + tail)


def _silu_mul_cases():
    return [(37, 512, torch.bfloat16, 1), (16, 256, torch.float16, 2), (64, 1024, torch.bfloat16, 3)]


def check_silu_mul_kernel(kernel, block_m: int = 8) -> Result:
    """kernel(x_ptr, y_ptr, M, N, BLOCK_M) on grid (cdiv(M, BLOCK_M), N/256): y = silu(gate) * up."""
    def body(k):
        for m, n, dt, seed in _silu_mul_cases():
            # pad both tensors with rows past M so an unmasked access stays inside the allocation
            xbuf = torch.full((m + block_m, n), 3.0, dtype=dt, device=DEV)
            xbuf[:m] = _randn((m, n), dt, seed, 2.0)
            ybuf = torch.full((m + block_m, n // 2), float("nan"), dtype=dt, device=DEV)
            x, y = xbuf[:m], ybuf[:m]
            k[(triton.cdiv(m, block_m), n // 256)](x, y, m, n, BLOCK_M=block_m)
            past = (~torch.isnan(ybuf[m:].float())).any(dim=1).nonzero().flatten()
            if past.numel():
                raise Fail(f"M={m}, N={n}: your kernel wrote rows {_ranges((past + m).tolist())} past the "
                           f"end of y (M = {m}): mask the loads and stores with rows < M (the last block "
                           f"of {block_m} rows is partial)")
            _compare_y(y, x, f"M={m}, N={n}, {str(dt).replace('torch.', '')}")
        return "passed: bf16 and fp16, M = 37 (a partial last block), 16 and 64"
    return _run("silu_mul_kernel", body, kernel)


def check_silu_mul_launch(silu_mul) -> Result:
    """silu_mul(x [M, N]) -> y [M, N/2]: your launcher around your kernel."""
    def body(f):
        for m, n, dt, seed in _silu_mul_cases() + [(5, 768, torch.bfloat16, 4)]:
            x = _randn((m, n), dt, seed, 2.0)
            y = f(x)
            if not isinstance(y, torch.Tensor):
                raise Fail(f"silu_mul returned {type(y).__name__}, expected a tensor y [M, N/2]")
            _compare_y(y, x, f"M={m}, N={n}")
        return "passed: M = 37, 16, 64 and 5 (fewer rows than one block), N = 256 to 1024"
    return _run("silu_mul_launch", body, silu_mul)


# ---------------------------------------------------------------- 2.1 group scale

@triton.jit
def _group_scale_harness(y_ptr, s_ptr, eps, FN: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    y = tl.load(y_ptr + rows[:, None] * 128 + tl.arange(0, 128)[None, :])
    tl.store(s_ptr + rows, FN(y, eps))


def _group_inputs(seed: int) -> torch.Tensor:
    """[32, 128] fp32 groups: random magnitudes, all negative, an all-zero, a tiny and a lone spike."""
    g = _seeded(seed)
    y = torch.randn(32, 128, generator=g) * torch.logspace(-3, 3, 32)[:, None]
    y = y.to(torch.bfloat16).float()
    y[3] = -y[3].abs()       # the absmax is a negative number's magnitude
    y[5] = 0.0               # all-zero group: only eps keeps the scale positive
    y[9] = 1e-12             # tinier than eps: the floor decides
    y[12] = 0.0
    y[12, 77] = -300.0       # one spike
    return y


def _same_division(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Equal, allowing on the GPU the 2 ulp of its fp32 division (div.full) in `want`'s quotient."""
    if TIER == "cpu":
        return torch.equal(got, want)
    return bool((ulp_diff_f32(got, want) <= 2).all())


def check_group_scale(group_scale) -> Result:
    """group_scale(y [BLOCK_M, 128] fp32, eps) -> scale [BLOCK_M] fp32 (a @triton.jit function)."""
    def body(fn):
        for eps, seed in ((1e-10, 11), (1e-4, 12)):
            y = _group_inputs(seed)
            s = torch.full((32,), float("nan"), device=DEV)
            _group_scale_harness[(4,)](y.to(DEV), s, eps, FN=fn, BLOCK_M=8)
            s = s.cpu()
            amax = y.abs().amax(dim=1)
            want = amax.clamp_min(eps) * (1.0 / 448.0)
            if torch.equal(s, want):
                continue
            bad = (s != want) & ~(s.isnan() & want.isnan())
            r = int(bad.nonzero()[0])
            head = (f"eps={eps:g}: {int(bad.sum())} of 32 scales differ; first at row {r}: expected "
                    f"{want[r].item():.6g}, got {s[r].item():.6g}")
            if torch.equal(s, amax * (1.0 / 448.0)) or (s[5] == 0) or s[5].isnan():
                raise Fail(f"{head}. Row 5 is all zeros: without the eps floor its scale is 0, and then "
                           f"y / scale = 0 / 0 = NaN for the whole group. Floor the absmax: "
                           f"max(absmax, eps) -- expected {want[5].item():.6g} = eps/448 there")
            if _same_division(s, (amax / 448.0).clamp_min(eps)):
                raise Fail(f"{head}. You floored the *scale* at eps (the packed kernel's rule); the "
                           "colmajor kernel floors the *absmax*: max(absmax, eps) * (1/448)")
            if _same_division(s, amax.clamp_min(eps) / 448.0):
                raise Fail(f"{head}. You divided by 448; the kernel multiplies by the fp32 reciprocal "
                           "(1/448), which differs in the last bit for some values (vLLM does this to "
                           "match PyTorch bit for bit)")
            if torch.equal(s, y.amax(dim=1).clamp_min(eps) * (1.0 / 448.0)) or s[3] != want[3]:
                raise Fail(f"{head}. Take the max of |y|, not of y: row 3 is all negative")
            if torch.equal(s, amax.clamp_min(1e-10) * (1.0 / 448.0)):
                raise Fail(f"{head}. Use the eps argument, not a constant 1e-10")
            raise Fail(head + f" (row {r}'s absmax is {amax[r].item():.6g})")
        return "passed: random groups, an all-zero group, a negative one, eps = 1e-10 and 1e-4"
    return _run("group_scale", body, group_scale)


# ---------------------------------------------------------------- 2.2 clamp and cast

@triton.jit
def _quantize_harness(y_ptr, s_ptr, v_ptr, q_ptr, FN: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs = rows[:, None] * 128 + tl.arange(0, 128)[None, :]
    v, q = FN(tl.load(y_ptr + offs), tl.load(s_ptr + rows))
    tl.store(v_ptr + offs, v)
    tl.store(q_ptr + offs, q)


def check_fp8_quantize(fp8_quantize) -> Result:
    """fp8_quantize(y [BLOCK_M, 128] fp32, scale [BLOCK_M] fp32) -> (v fp32, q fp8 e4m3fn)."""
    def body(fn):
        y = _group_inputs(21)
        scale = y.abs().amax(dim=1).clamp_min(1e-10) * (1.0 / 448.0)
        # rows 16..31 get scales that are too small (a static scale, or UE8M0's log2 route one power
        # of two low): their |y / scale| goes past 448, where only the clamp keeps things defined
        scale[16:] = scale[16:] * torch.tensor([0.5, 0.25, 0.999, 0.125] * 4)
        v = torch.full_like(y, float("nan"), device=DEV)
        q = torch.zeros(y.shape, dtype=ref.FP8, device=DEV)
        _quantize_harness[(4,)](y.to(DEV), scale.to(DEV), v, q, FN=fn, BLOCK_M=8)
        v, q = v.cpu(), q.cpu()
        want_v = (y / scale[:, None]).clamp(-ref.FP8_MAX, ref.FP8_MAX)
        ulps = ulp_diff_f32(v, want_v)
        ulps[v.isnan() != want_v.isnan()] = 1 << 30
        limit = 0 if TIER == "cpu" else 2
        if int(ulps.max()) > limit:
            r, c = divmod(int(ulps.flatten().argmax()), 128)
            head = (f"v differs from clamp(y / scale, -448, 448) in {int((ulps > limit).sum()):,} of "
                    f"{v.numel():,} elements; worst at row {r}, column {c}: y = {y[r, c].item():g}, "
                    f"scale = {scale[r].item():g}, expected {want_v[r, c].item():g}, got {v[r, c].item():g}")
            if float(v.max()) > ref.FP8_MAX or float(v.min()) < -ref.FP8_MAX:
                top = int(v.abs().flatten().argmax())
                raise Fail(f"{head}. Values up to {v.flatten()[top].item():g} (row {top // 128}) reach the "
                           "cast unclamped: fp8 e4m3fn's largest finite value is 448. What the cast then "
                           "gives depends on the hardware and library (Triton on an H100 saturates to 448, "
                           "torch 2.11 gives NaN from 464): clamp to [-448, 448] first and every "
                           "implementation agrees")
            if torch.allclose(v, (y * scale[:, None]).clamp(-448, 448)):
                raise Fail(f"{head}. You multiplied by the scale; quantizing divides by it (x = q * scale)")
            raise Fail(head)
        if q.dtype != ref.FP8:
            raise Fail(f"q is {q.dtype}, expected torch.float8_e4m3fn")
        want_q = v.to(ref.FP8)
        bad = q.view(torch.uint8) != want_q.view(torch.uint8)
        if bad.any():
            r, c = bad.nonzero()[0].tolist()
            raise Fail(f"q is not v cast to fp8 e4m3fn in {int(bad.sum()):,} elements; first at row {r}, "
                       f"column {c}: v = {v[r, c].item():g} should give {want_q[r, c].float().item():g}, "
                       f"got {q[r, c].float().item():g}. Cast with .to(tl.float8e4nv) (round to nearest "
                       "even), not another fp8 format")
        return "passed: 4,096 values, half of them with too-small scales that only the clamp tames"
    return _run("fp8_quantize", body, fp8_quantize)


# ---------------------------------------------------------------- 3.1 / 3.2 column-major scales

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
    return _run("scale_offsets", body, scale_offsets)


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
    return _run("scale_alloc", body, alloc_scales)


# ---------------------------------------------------------------- 4.1 / 4.2 UE8M0

@triton.jit
def _elementwise_harness(x_ptr, y_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + i, mask=i < n, other=1.0)
    tl.store(y_ptr + i, FN(x), mask=i < n)


def _ue8m0_inputs() -> torch.Tensor:
    pow2 = torch.exp2(torch.arange(-45, 20, dtype=torch.float32))
    above = torch.nextafter(pow2, torch.full_like(pow2, math.inf))
    below = torch.nextafter(pow2, torch.zeros_like(pow2))
    rnd = torch.exp(torch.empty(1000).uniform_(-30, 12, generator=_seeded(41)))
    special = torch.tensor([1e-10 / 448, 1 / 448, 1.0, 448 / 448, 3.0, 0.75])
    return torch.cat([pow2, above, below, rnd, special]).float()


def check_ue8m0_round(ue8m0) -> Result:
    """ue8m0(scale fp32) -> 2 ** ceil(log2(scale)), elementwise (a @triton.jit function)."""
    def body(fn):
        s = _ue8m0_inputs()
        got = torch.full_like(s, float("nan"), device=DEV)
        _elementwise_harness[(triton.cdiv(s.numel(), 256),)](s.to(DEV), got, s.numel(), FN=fn, BLOCK=256)
        got = got.cpu()
        want = ref.ue8m0(s)
        bad = got != want
        if not bad.any():
            return f"passed: {s.numel():,} scales, powers of two and their neighbours included"
        i = int(bad.nonzero()[0])
        head = (f"{int(bad.sum())} of {s.numel():,} scales differ; first: scale {s[i].item():.9g} -> "
                f"expected {want[i].item():.9g}, got {got[i].item():.9g}")
        m, e = torch.frexp(got)
        if not bool(((m.abs() == 0.5) | (got == 0)).all()):
            raise Fail(f"{head}. Some results are not powers of two")
        if torch.equal(got, torch.exp2(torch.floor(torch.log2(s)))):
            raise Fail(f"{head}. That is floor: a scale rounded *down* makes |y| / scale exceed 448 "
                       "(up to 2x). UE8M0 rounds up: ceil")
        if torch.equal(got, torch.exp2(torch.round(torch.log2(s)))):
            raise Fail(f"{head}. That is round-to-nearest; UE8M0 here rounds up: ceil")
        bits = s.view(torch.int32)
        exact = ((bits >> 23) + ((bits & 0x7FFFFF) != 0).to(torch.int32)) << 23
        if torch.equal(got, exact.view(torch.float32)):
            raise Fail(f"{head}. You computed the exact next power of two from the bits (DeepGEMM's "
                       "way). The vLLM kernels use fp32 exp2(ceil(log2(s))), which rounds just above a "
                       "power of two down to it; the contract is the kernels' route")
        raise Fail(head)
    return _run("ue8m0_round", body, ue8m0)


@triton.jit
def _pack_harness(e_ptr, w_ptr, FN: tl.constexpr, BLOCK_M: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    e0 = tl.load(e_ptr + rows * 4 + 0)
    e1 = tl.load(e_ptr + rows * 4 + 1)
    e2 = tl.load(e_ptr + rows * 4 + 2)
    e3 = tl.load(e_ptr + rows * 4 + 3)
    tl.store(w_ptr + rows, FN(e0, e1, e2, e3).to(tl.int32))


def _pack_inputs() -> torch.Tensor:
    g = _seeded(51)
    e = torch.randint(-40, 20, (32, 4), generator=g).float()
    e[0] = torch.tensor([-33.0, 0.0, 1.0, 5.0])      # byte 94 (all-zero group), 127, 128, 132
    e[1] = torch.tensor([-127.0, -200.0, 128.0, 300.0])  # 0, clamped to 0, 255, clamped to 255
    e[2] = torch.tensor([0.0, 0.0, 0.0, 10.0])       # the top byte >= 128 sets the int32 sign bit
    return e


def _hex(v: int) -> str:
    return f"0x{v & 0xFFFFFFFF:08X}"


def check_pack_exponents(pack_ue8m0) -> Result:
    """pack_ue8m0(e0, e1, e2, e3) [BLOCK_M] fp32 exponents -> int32 words (a @triton.jit function)."""
    def body(fn):
        e = _pack_inputs()
        got = torch.zeros(32, dtype=torch.int32, device=DEV)
        _pack_harness[(4,)](e.to(DEV), got, FN=fn, BLOCK_M=8)
        got = got.cpu()
        byte = (e + 127).clamp(0, 255)
        want = ref.pack_exponents(byte)[:, 0]
        if torch.equal(got, want):
            return "passed: 32 rows incl. byte 94 (all-zero group), clamping at 0 and 255, the sign bit"
        bad = (got != want).nonzero().flatten()
        r = int(bad[0])
        lanes_got = ref.unpack_exponents(got[:, None], 4)
        lanes_want = byte.to(torch.int32)
        j = int((lanes_got[r] != lanes_want[r]).nonzero()[0]) if (lanes_got[r] != lanes_want[r]).any() else 0
        head = (f"{len(bad)} of 32 words differ; first at row {r} (exponents {e[r].int().tolist()}): "
                f"expected {_hex(want[r].item())}, got {_hex(got[r].item())}; byte {j} (group 4p+{j}) "
                f"should be {lanes_want[r, j].item()}, is {lanes_got[r, j].item()}")
        if torch.equal(got, ref.pack_exponents(byte.flip(1))[:, 0]):
            raise Fail(f"{head}. The byte order is reversed: group 4p+j goes to byte j, so group 4p is "
                       "the *least* significant byte (shift by 8 * j)")
        if torch.equal(got, ref.pack_exponents((e.to(torch.int64) & 0xFF))[:, 0]) or lanes_got[0, 1] == 0:
            raise Fail(f"{head}. Add the bias 127 before packing: byte = e + 127 (exponent 0 -> 127)")
        if torch.equal(got, ref.pack_exponents(((e + 127).to(torch.int64) & 0xFF))[:, 0]) or \
                lanes_got[1, 1] != 0 or lanes_got[1, 3] != 255:
            raise Fail(f"{head}. Clamp the biased exponent to [0, 255] before packing (row 1 holds "
                       f"{e[1].int().tolist()}): an out-of-range value spills into the neighbouring byte")
        raise Fail(head)
    return _run("pack_exponents", body, pack_ue8m0)


# ---------------------------------------------------------------- 5.x offsets

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
    return _run("largest_offset", body, largest_offset)


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
    return _run("first_failing_m", body, first_failing_m)


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
                           "Casting the result, (pid * BLOCK_M * stride).to(tl.int64), widens an already "
                           "wrapped number. Cast the operand before multiplying: "
                           "pid.to(tl.int64) * BLOCK_M * stride")
            if got[i] == -7:
                raise Fail(f"{head}: nothing was stored for it (still the check's -7). Store all n "
                           "values: mask with the lane index < n")
            raise Fail(head)
        return "passed: exact int64 offsets for pids up to 1,048,575 (int32 wraps from pid 65,536 at stride 4096)"
    return _run("fix_offsets", body, kernel)


# ---------------------------------------------------------------- 6.x grid and precheck

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
                raise Fail(f"{head}: rows {_ranges(rows0)} (words {_ranges(words)}) are never processed. "
                           f"Axis 0 needs cdiv(M, block_m) = {triton.cdiv(m, 8)} row blocks, axis 1 "
                           f"cdiv(N/256, 4) = {p} words")
            raise Fail(f"{head}: rows {_ranges(rows2)} are processed {int(count.max())} times")
        return "passed: M = 4,610,048 fits (axis 0), and small launches cover every row exactly once"
    return _run("packed_grid", body, packed_grid)


_PRECHECK_CASES = (  # (M, N, block_m, rows_axis)
    (524_280, 4096, 8, 1), (524_288, 4096, 8, 1), (524_288, 4096, 8, 0), (524_416, 4096, 8, 0),
    (131_072, 16_384, 8, 0), (131_073, 16_384, 8, 0), (256, 1024, 8, 1), (4_610_048, 4096, 8, 0),
    (1_048_576, 2048, 8, 1), (1_048_576, 2048, 16, 1), (1, 256, 8, 1),
)


def check_precheck(precheck) -> Result:
    """precheck(M, N, block_m, rows_axis) returns for a safe launch, raises ValueError otherwise."""
    def body(fn):
        for m, n, b, axis in _PRECHECK_CASES:
            a = koff.analyze("packed", m, n, "int32", axis, b)
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
    return _run("precheck", body, precheck)


__all__ = ["Result", "record_progress"] + [e.check for e in exercises.EXERCISES]
