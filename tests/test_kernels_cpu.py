"""Both kernels against their PyTorch references on small, odd shapes and adversarial values.

Runs on every machine: on the CPU tier (Triton interpreter with GPU rounding) the rule is
"identical"; on a GPU machine the same tests run on the GPU with kernels.compare's GPU rule.
Failures print kernels.compare's report, which names the worst element.
"""
from __future__ import annotations

import math
import random

import pytest
import torch

import kernels
from kernels import reference as R
from kernels.reference import e4m3_value
from kernels.compare import compare
from conftest import TIER, make_x, on_device, seed_of

BF16, FP16 = torch.bfloat16, torch.float16
DTYPES = [pytest.param(BF16, id="bf16"), pytest.param(FP16, id="fp16")]
# every M of {1, 3, 8, 13, 37, 64, 130} and every N of {256, 512, 768, 1280, 2304} appears
SHAPES = [(1, 2304), (3, 768), (8, 256), (13, 1280), (37, 512), (64, 768), (130, 2304),
          (64, 1280), (13, 256)]
COLMAJOR = "colmajor"
PACKED = "packed"


def shape_id(s):
    return f"M{s[0]}xN{s[1]}"


def run_kernel(kind: str, x: torch.Tensor, **kw):
    """(kernel outputs, reference outputs) for one configuration."""
    if kind == COLMAJOR:
        ue8m0 = kw.pop("use_ue8m0", False)
        eps = kw.get("eps", 1e-10)
        got = kernels.silu_mul_fp8_colmajor(x, use_ue8m0=ue8m0, **kw)
        want = kernels.silu_mul_fp8_colmajor_ref(x.cpu(), ue8m0, eps)
    else:
        got = kernels.silu_mul_fp8_packed(x, **kw)
        want = kernels.silu_mul_fp8_packed_ref(x.cpu())
    # on a GPU, a result is accepted inside the envelope of its approximate exp/division
    env = None if TIER == "cpu" else R.gpu_envelope(x.cpu(), kind, ue8m0 if kind == COLMAJOR else False,
                                                    kw.get("eps", 1e-10))
    return got, (*want, env)


def scale_storage(s: torch.Tensor) -> torch.Tensor:
    """The whole [cols, round_up(M,4)] buffer behind an MN-major scale view (padding rows included)."""
    aligned = R.round_up(s.shape[0], 4)
    return s.as_strided((s.shape[1], aligned), (aligned, 1))


def assert_matches(got, want):
    q, s = got
    q_ref, s_ref, env = want
    m = q_ref.shape[0]
    # layout first: MN-major with the column stride padded to a multiple of 4 (TMA alignment)
    assert s.stride() == (1, R.round_up(m, 4)), f"scales strides {s.stride()}, want (1, {R.round_up(m, 4)})"
    assert q.is_contiguous() and q.dtype == torch.float8_e4m3fn
    rep = compare(q, s, q_ref, s_ref, tier=TIER, envelope=env)
    assert rep, str(rep)
    # rows M .. round_up(M,4)-1 of the scale buffer are padding, defined as 0 and written by the
    # kernel (the launcher allocates with torch.empty)
    pad = scale_storage(s)[:, m:]
    assert int((pad != 0).sum()) == 0, f"scale padding rows hold {pad}, not 0"
    return rep



# ---------------------------------------------------------------------------------------------
# plain agreement over odd shapes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_ue8m0", [False, True], ids=["fp32scale", "ue8m0"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_colmajor_matches_reference(shape, use_ue8m0, dtype):
    m, n = shape
    x = make_x(m, n, dtype, seed=m * 10_000 + n, scale=3.0)
    assert_matches(*run_kernel(COLMAJOR, x, use_ue8m0=use_ue8m0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows_axis", [0, 1], ids=["rows_axis0", "rows_axis1"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_packed_matches_reference(shape, rows_axis, dtype):
    m, n = shape
    x = make_x(m, n, dtype, seed=m * 10_000 + n + 1, scale=3.0)
    assert_matches(*run_kernel(PACKED, x, rows_axis=rows_axis))


@pytest.mark.parametrize("shape", [(13, 768), (37, 1280)], ids=shape_id)
@pytest.mark.parametrize("kind", [COLMAJOR, PACKED])
def test_int32_and_int64_index_agree_at_small_sizes(kind, shape):
    x = make_x(*shape, BF16, seed=7, scale=2.0)
    got32, want = run_kernel(kind, x, index="int32")
    got64, _ = run_kernel(kind, x, index="int64")
    assert_matches(got32, want)
    assert_matches(got64, want)
    assert torch.equal(got32[0].view(torch.uint8), got64[0].view(torch.uint8))
    assert torch.equal(got32[1], got64[1])


@pytest.mark.parametrize("gpp", [1, 2, 4, 8, None])
@pytest.mark.parametrize("block_m", [1, 16])
@pytest.mark.parametrize("n", [1280, 2048])   # 5 groups (only 1 divides them) and 8 groups
def test_colmajor_block_m_and_groups_per_program(n, block_m, gpp):
    x = make_x(13, n, BF16, seed=n + block_m * 7 + (gpp or 3), scale=2.0)
    if gpp is not None and (n // 256) % gpp:
        with pytest.raises(kernels.KernelInputError, match="does not divide"):
            run_kernel(COLMAJOR, x, block_m=block_m, groups_per_program=gpp)
        return
    assert_matches(*run_kernel(COLMAJOR, x, use_ue8m0=bool((gpp or 1) & 1), block_m=block_m,
                               groups_per_program=gpp))


@pytest.mark.parametrize("block_m", [1, 16, 128])
def test_packed_block_m(block_m):
    x = make_x(13, 2304, FP16, seed=block_m, scale=2.0)
    assert_matches(*run_kernel(PACKED, x, block_m=block_m))


def _random_cases(count=10, seed=2024, max_programs=120):
    """Seeded random configurations; kept small enough for the interpreter (programs bounded)."""
    rng = random.Random(seed)
    cases = []
    while len(cases) < count:
        kind = rng.choice([COLMAJOR, PACKED])
        m, n = rng.randint(1, 150), 256 * rng.randint(1, 9)
        dtype = rng.choice([BF16, FP16])
        block_m = rng.choice([1, 2, 4, 8, 16, 32])
        kw = dict(index=rng.choice(["int32", "int64"]), block_m=block_m)
        g = n // 256
        if kind == COLMAJOR:
            kw.update(use_ue8m0=rng.random() < 0.5,
                      groups_per_program=rng.choice([d for d in (1, 2, 4, 8) if g % d == 0]))
            programs = math.ceil(m / block_m) * g // kw["groups_per_program"]
        else:
            kw.update(rows_axis=rng.randint(0, 1))
            programs = math.ceil(m / block_m) * math.ceil(g / 4) * 2  # 4 groups each: ~2x the cost
        if programs > max_programs:
            continue
        cases.append(pytest.param(kind, m, n, dtype, kw, rng.randrange(2**31),
                                  id=f"{kind}-M{m}xN{n}-{str(dtype)[6:]}-" +
                                  "-".join(f"{k}{v}" for k, v in kw.items())))
    return cases


@pytest.mark.parametrize("kind,m,n,dtype,kw,seed", _random_cases())
def test_random_shapes(kind, m, n, dtype, kw, seed):
    x = make_x(m, n, dtype, seed=seed, scale=4.0)
    assert_matches(*run_kernel(kind, x, **kw))


# ---------------------------------------------------------------------------------------------
# the out= buffer


@pytest.mark.parametrize("kind", [COLMAJOR, PACKED])
def test_out_buffer_is_written_and_returned(kind):
    m, n = 21, 1280
    x = make_x(m, n, BF16, seed=11, scale=2.0)
    junk = torch.randint(0, 256, (m, n // 2), generator=torch.Generator().manual_seed(3),
                         dtype=torch.uint8)
    out = on_device(junk).view(torch.float8_e4m3fn)
    got, want = run_kernel(kind, x, out=out)
    assert got[0] is out, "the wrapper must return the out= tensor itself"
    assert_matches(got, want)


# ---------------------------------------------------------------------------------------------
# adversarial values


def _zero_group_input(dtype, m=5, n=1280, zero_groups=(1, 4)):
    x = make_x(m, n, dtype, seed=99, scale=2.0).cpu()
    h = n // 2
    for g in zero_groups:
        x[:, g * 128:(g + 1) * 128] = 0          # gate
        x[:, h + g * 128:h + (g + 1) * 128] = 0  # up
    # a third kind of zero group: gate nonzero, up zero (silu(g) * 0, some of them -0)
    x[:, h + 2 * 128:h + 3 * 128] = 0
    return on_device(x), list(zero_groups) + [2]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_ue8m0", [False, True], ids=["fp32scale", "ue8m0"])
def test_colmajor_all_zero_group_scale_is_exact(use_ue8m0, dtype):
    x, zg = _zero_group_input(dtype)
    got, want = run_kernel(COLMAJOR, x, use_ue8m0=use_ue8m0)
    assert_matches(got, want)
    q, s = got[0].cpu(), got[1].cpu()
    # from first principles: amax = eps (fp32) and scale = eps * fp32(1/448); with UE8M0 it is
    # 2**ceil(log2(2.23e-13)) = 2**-42
    if use_ue8m0:
        expected = 2.0 ** -42
    else:
        expected = (torch.tensor(1e-10, dtype=torch.float32) *
                    torch.tensor(1 / 448, dtype=torch.float32)).item()
    for g in zg:
        col = s[:, g]
        assert torch.equal(col, torch.full_like(col, expected)), \
            f"group {g}: scales {col.tolist()}, expected exactly {expected!r}"
        codes = q[:, g * 128:(g + 1) * 128].float()
        assert int((codes != 0).sum()) == 0, f"group {g}: nonzero codes in an all-zero group"
    nonzero = [g for g in range(s.shape[1]) if g not in zg]
    assert bool((s[:, nonzero] > 1e-6).all()), "groups with data must not get the eps scale"


def test_colmajor_eps_floors_the_absmax():
    # every |y| is far below eps = 0.5, so every group's scale is exactly fp32(0.5) * fp32(1/448)
    x = make_x(6, 768, BF16, seed=5, scale=0.05)
    got, want = run_kernel(COLMAJOR, x, eps=0.5)
    assert_matches(got, want)
    expected = (torch.tensor(0.5) * torch.tensor(1 / 448, dtype=torch.float32)).item()
    s = got[1].cpu()
    assert torch.equal(s, torch.full_like(s, expected)), f"scales {s.unique().tolist()}, want {expected!r}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_all_zero_group_byte_is_94(dtype):
    x, zg = _zero_group_input(dtype)            # N = 1280: 5 groups -> 2 words, word 1 has 1 live lane
    got, want = run_kernel(PACKED, x)
    assert_matches(got, want)
    byte = math.ceil(math.log2(1e-10)) + 127    # scale_raw floors at 1e-10 -> e = -33 -> byte 94
    assert byte == 94
    bytes_ = R.unpack_exponents(got[1].cpu(), 8)
    for g in zg:
        assert bytes_[:, g].tolist() == [byte] * x.shape[0], f"group {g}: bytes {bytes_[:, g].tolist()}"
        assert int((got[0].cpu()[:, g * 128:(g + 1) * 128].float() != 0).sum()) == 0
    assert int((bytes_[:, 5:] != 0).sum()) == 0, f"unused byte lanes must be 0: {bytes_[:, 5:]}"


@pytest.mark.parametrize("n,groups", [(768, 3), (1280, 5), (2304, 9), (256, 1)])
def test_packed_unused_byte_lanes_are_zero(n, groups):
    x = make_x(9, n, BF16, seed=n, scale=1.0)
    got, want = run_kernel(PACKED, x)
    assert_matches(got, want)
    words = got[1].cpu()
    assert words.shape == (9, math.ceil(groups / 4))
    lanes = R.unpack_exponents(words, 4 * words.shape[1])
    assert int((lanes[:, groups:] != 0).sum()) == 0, f"unused lanes not zero: {lanes[:, groups:]}"
    assert bool((lanes[:, :groups] >= 94).all()), "a live lane is below the 1e-10 floor's byte 94"


def _adversarial(kind_of_values: str, dtype, m=6, n=1280, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    h = n // 2
    gate = torch.rand(m, h, generator=g) * 2 - 1
    up = torch.rand(m, h, generator=g) * 2 - 1
    if kind_of_values == "huge":
        big = 1e30 if dtype == BF16 else 250.0   # fp16: products must stay below 65,504
        gate[: m // 2] *= big                    # huge gate: silu(g) = g or -0
        up[m // 2:] *= big                       # huge up
        up[: m // 2] *= 4
        if dtype == FP16:
            gate[m // 2:] *= 250.0
    elif kind_of_values == "tiny":
        lo = (1e-30, 1e-9) if dtype == BF16 else (1e-7, 1e-4)   # fp16: 1e-7 is subnormal
        up[: m // 2] *= lo[0]                    # |y| far below eps: only the floor acts
        up[m // 2:] *= lo[1]                     # |y| around eps
    elif kind_of_values == "negative":
        gate, up = -gate.abs() * 6, -up.abs() * 6
        up[:, ::3] *= -1                        # some products negative too
    else:
        raise ValueError(kind_of_values)
    x = torch.cat([gate, up], dim=1).to(dtype)
    assert bool(torch.isfinite(x).all())
    return on_device(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", ["huge", "tiny", "negative"])
@pytest.mark.parametrize("kind,kw", [(COLMAJOR, {}), (COLMAJOR, {"use_ue8m0": True}),
                                     (PACKED, {})], ids=["colmajor", "colmajor-ue8m0", "packed"])
def test_adversarial_magnitudes(kind, kw, values, dtype):
    x = _adversarial(values, dtype, seed=seed_of(f"{values}-{dtype}"))
    got, want = run_kernel(kind, x, **dict(kw))
    assert bool(torch.isfinite(got[0].cpu().float()).all()), "a NaN fp8 code came out"
    assert_matches(got, want)
    if values == "huge" and kind == PACKED and dtype == BF16:
        # 1e30 / 448 -> 2**ceil(log2(2.2e27)) = 2**91 -> byte 218: far above the usual range
        assert int(R.unpack_exponents(got[1].cpu(), 5).max()) >= 200


def _tie_input(dtype, sign_rows=True):
    """Input whose y values are exactly the fp8 midpoints (and codes), each group holding 448.

    gate = 64 makes silu(gate) exactly 64 in fp32 (exp(-64) vanishes next to 1), so y = 64 * up
    with up = target / 64, exact in bf16 and fp16 (targets have <= 4 significant bits). A group
    whose absmax is 448 gets scale exactly 1 on every path (448 * fp32(1/448) == 1, 448/448 == 1,
    2**ceil(log2(1)) == 1), so y / scale = y and each midpoint is an exact fp8 tie.
    """
    vals = [e4m3_value(c) for c in range(127)]                   # codes 0 .. 126 (0 .. 448)
    mids = [(vals[c] + vals[c + 1]) / 2 for c in range(126)]    # the 126 positive ties
    want_mid = [c if c % 2 == 0 else c + 1 for c in range(126)]  # round half to the even code
    targets, codes = [], []
    for t, c in zip(mids + vals, want_mid + list(range(127))):
        targets += [t, -t]
        codes += [c, c | 0x80]
    per = 127
    groups = math.ceil(len(targets) / per)
    y = torch.zeros(groups, 128, dtype=torch.float64)
    want = torch.zeros(groups, 128, dtype=torch.int64)
    for gi in range(groups):
        chunk_t = targets[gi * per:(gi + 1) * per]
        chunk_c = codes[gi * per:(gi + 1) * per]
        y[gi, 0], want[gi, 0] = (448.0, 126) if gi % 2 == 0 else (-448.0, 254)
        y[gi, 1:1 + len(chunk_t)] = torch.tensor(chunk_t, dtype=torch.float64)
        want[gi, 1:1 + len(chunk_c)] = torch.tensor(chunk_c)
    # lay the groups out as rows of 4 groups (N = 1024)
    rows = math.ceil(groups / 4)
    y = torch.cat([y, torch.zeros(rows * 4 - groups, 128, dtype=torch.float64)]).view(rows, 512)
    want = torch.cat([want, torch.zeros(rows * 4 - groups, 128, dtype=torch.int64)]).view(rows, 512)
    # padding groups are all zero (eps scale; code 0): drop their expectations below
    up = (y / 64).to(dtype)
    assert torch.equal(up.double() * 64, y), "targets must be exact in the input dtype"
    x = torch.cat([torch.full_like(up, 64.0), up], dim=1)
    return on_device(x), want, groups


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,kw", [(COLMAJOR, {}), (COLMAJOR, {"use_ue8m0": True}),
                                     (PACKED, {})], ids=["colmajor", "colmajor-ue8m0", "packed"])
def test_exact_fp8_ties_round_to_even_and_448_saturates(kind, kw, dtype):
    x, want, groups = _tie_input(dtype)
    got, ref = run_kernel(kind, x, **dict(kw))
    assert_matches(got, ref)
    q, s = got[0].cpu(), got[1].cpu()
    live = torch.zeros(x.shape[0] * 4, dtype=torch.bool)
    live[:groups] = True
    live = live.view(x.shape[0], 4)
    if kind == COLMAJOR:
        assert bool((s[live] == 1.0).all()), f"scale must be exactly 1 for a 448 group: {s}"
    else:
        assert bool((R.unpack_exponents(s, 4)[live] == 127).all()), "scale 1 = byte 127"
    codes = q.view(torch.uint8).to(torch.int64)
    mask = live.repeat_interleave(128, dim=1)
    bad = (codes != want) & mask
    if bool(bad.any()):
        r, c = bad.nonzero()[0].tolist()
        y = 64 * x[r, 512 + c].item()
        pytest.fail(f"{int(bad.sum())} tie/exact codes wrong; first at row {r}, column {c}: y = {y!r}, "
                    f"expected code {int(want[r, c])} ({e4m3_value(int(want[r, c]))}), "
                    f"got {int(codes[r, c])} ({e4m3_value(int(codes[r, c]))})")
    # the absmax element of every live group is exactly +-448 (code 126 / 254)
    assert set(codes[:, ::128][live].tolist()) <= {126, 254}


@pytest.mark.parametrize("dtype", DTYPES)
def test_colmajor_group_absmax_lands_on_448(dtype):
    # without UE8M0 the scale is amax/448, so every group's absmax element must quantize to +-448
    x = make_x(17, 2304, dtype, seed=31, scale=5.0)
    got, want = run_kernel(COLMAJOR, x)
    assert_matches(got, want)
    y = R.colmajor_y(x.cpu()).view(17, 9, 128)
    q = got[0].cpu().view(torch.uint8).view(17, 9, 128).to(torch.int64)
    arg = y.abs().argmax(dim=-1, keepdim=True)
    top = q.gather(-1, arg).squeeze(-1)
    assert set(top.flatten().tolist()) <= {126, 254}, f"absmax codes {sorted(set(top.flatten().tolist()))}"


def test_fp8_decoder_agrees_with_torch():
    # guard for the expectations above: the fp8 decoder used here agrees with torch's
    codes = torch.arange(256, dtype=torch.int64).to(torch.uint8)
    torch_vals = codes.view(torch.float8_e4m3fn).float()
    mine = torch.tensor([e4m3_value(c) for c in range(256)], dtype=torch.float32)
    same = (torch_vals == mine) | (torch_vals.isnan() & mine.isnan())
    assert bool(same.all()), f"decoder differs at codes {(~same).nonzero().flatten().tolist()}"


# ---------------------------------------------------------------------------------------------
# each @triton.jit kernel on its own: no launcher, buffers pre-filled with garbage


def _direct(kind, x, block_m, extra):
    """Launch the bare kernel with arguments and grid computed here, not by the launcher."""
    from kernels.colmajor import silu_mul_fp8_colmajor_kernel
    from kernels.packed import silu_mul_fp8_packed_kernel
    m, n = x.shape
    g = n // 256
    aligned = -(-m // 4) * 4
    cols = g if kind == COLMAJOR else -(-g // 4)
    junk = torch.randint(0, 256, (m, n // 2), generator=torch.Generator().manual_seed(m),
                         dtype=torch.uint8)
    q = on_device(junk).view(torch.float8_e4m3fn)
    sdtype = torch.float32 if kind == COLMAJOR else torch.int32
    buf = torch.full((cols, aligned), -1, dtype=sdtype, device=x.device)
    if kind == COLMAJOR:
        buf.fill_(float("nan"))
    s = buf.t()[:m]
    blocks = -(-aligned // block_m)
    if kind == COLMAJOR:
        gpp = extra["GROUPS"]
        silu_mul_fp8_colmajor_kernel[(blocks * (g // gpp),)](
            x_ptr=x, q_ptr=q, s_ptr=s, M=m, N=n, half=n // 2, s_stride=aligned, eps=1e-10,
            col_blocks=g // gpp, BLOCK_M=block_m, **extra)
    else:
        grid = (blocks * cols,) if extra["ROWS_ON_AXIS0"] else (cols, blocks)
        silu_mul_fp8_packed_kernel[grid](
            x_ptr=x, q_ptr=q, s_ptr=s, M=m, N=n, half=n // 2, num_groups=g, s_stride=aligned,
            words=cols, BLOCK_M=block_m, **extra)
    return q, s, buf


@pytest.mark.parametrize("kind,shape,block_m,extra", [
    (COLMAJOR, (13, 1280), 8, {"GROUPS": 1, "USE_UE8M0": False, "INDEX_64": False}),
    (COLMAJOR, (5, 2048), 1, {"GROUPS": 8, "USE_UE8M0": True, "INDEX_64": True}),
    (COLMAJOR, (37, 768), 16, {"GROUPS": 1, "USE_UE8M0": False, "INDEX_64": True}),
    (PACKED, (13, 2304), 8, {"ROWS_ON_AXIS0": True, "INDEX_64": False}),
    (PACKED, (6, 1280), 2, {"ROWS_ON_AXIS0": False, "INDEX_64": True}),
    (PACKED, (3, 256), 4, {"ROWS_ON_AXIS0": True, "INDEX_64": True}),
], ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(f"{k}{int(w)}" for k, w in v.items()))
def test_bare_kernel_matches_reference_and_zeroes_the_padding(kind, shape, block_m, extra):
    x = make_x(*shape, BF16, seed=shape[0] * 7 + shape[1], scale=3.0)
    q, s, buf = _direct(kind, x, block_m, extra)
    if kind == COLMAJOR:
        q_ref, s_ref = kernels.silu_mul_fp8_colmajor_ref(x.cpu(), extra["USE_UE8M0"])
        env = None if TIER == "cpu" else R.gpu_envelope(x.cpu(), kind, extra["USE_UE8M0"])
    else:
        q_ref, s_ref = kernels.silu_mul_fp8_packed_ref(x.cpu())
        env = None if TIER == "cpu" else R.gpu_envelope(x.cpu(), kind)
    rep = compare(q, s, q_ref, s_ref, tier=TIER, envelope=env)
    assert rep, str(rep)
    # padding rows M .. round_up(M, 4) - 1: defined as 0, written by the kernel (buffer held garbage)
    pad = buf[:, shape[0]:].cpu()
    assert pad.numel() == 0 or bool((pad == 0).all()), f"padding holds {pad}"
    assert bool((R.scale_padding(s).cpu() == 0).all())
