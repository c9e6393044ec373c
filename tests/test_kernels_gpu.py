"""GPU tier: the kernels at moderate sizes, agreement with the CPU tier, and the full-size bug.

Every test here is marked ``gpu`` and is skipped, with the reason, on a machine without CUDA
(see conftest.py). The full-size launches (M = 524,416) also carry ``slow``; each runs in a child
process through kernels.repro, because an illegal memory access poisons the process that hits it.
"""
from __future__ import annotations

import json

import pytest
import torch

import kernels
from kernels import reference as R
from kernels import repro
from kernels.compare import compare
from conftest import cpu_tier_env, make_x, model_first_unsafe, run_python

pytestmark = pytest.mark.gpu

M_BIG, N_BIG = 524_416, 4096


@pytest.mark.parametrize("n", [4096, 7168])
@pytest.mark.parametrize("kind,kw", [
    ("colmajor", {"use_ue8m0": False}), ("colmajor", {"use_ue8m0": True}),
    ("packed", {"rows_axis": 0}), ("packed", {"rows_axis": 1}),
], ids=["colmajor", "colmajor-ue8m0", "packed-rows0", "packed-rows1"])
def test_gpu_matches_reference(kind, kw, n):
    x = make_x(4096, n, torch.bfloat16, seed=n, scale=3.0, device="cuda")
    if kind == "colmajor":
        got = kernels.silu_mul_fp8_colmajor(x, **kw)
        want = kernels.silu_mul_fp8_colmajor_ref(x, kw["use_ue8m0"])
    else:
        got = kernels.silu_mul_fp8_packed(x, **kw)
        want = kernels.silu_mul_fp8_packed_ref(x)
    torch.cuda.synchronize()
    env = R.gpu_envelope(x, kind, kw.get("use_ue8m0", False))
    rep = compare(*got, *want, tier="gpu", envelope=env)
    print(rep)
    assert rep, str(rep)
    assert got[1].stride() == (1, 4096)


@pytest.mark.parametrize("index", ["int32", "int64"])
def test_gpu_int32_and_int64_agree_below_the_threshold(index):
    x = make_x(2048, 4096, torch.float16, seed=1, scale=2.0, device="cuda")
    got = kernels.silu_mul_fp8_colmajor(x, index=index)
    rep = compare(*got, *kernels.silu_mul_fp8_colmajor_ref(x), tier="gpu",
                  envelope=R.gpu_envelope(x, "colmajor"))
    assert rep, str(rep)


CPU_CHILD = r"""
import sys, torch, kernels
from kernels import tier
assert tier.INTERPRETED and tier.CORRECTED, tier.describe()
x = torch.load(sys.argv[1])
res = {
    "colmajor": kernels.silu_mul_fp8_colmajor(x),
    "colmajor_ue8m0": kernels.silu_mul_fp8_colmajor(x, use_ue8m0=True),
    "packed": kernels.silu_mul_fp8_packed(x),
}
torch.save(res, sys.argv[2])
print("cpu tier done:", tier.describe())
"""


def test_cpu_tier_agrees_with_gpu(tmp_path):
    x = make_x(256, 2048, torch.bfloat16, seed=2026, scale=4.0, device="cpu")
    inp, out = tmp_path / "x.pt", tmp_path / "cpu.pt"
    torch.save(x, inp)
    p = run_python(CPU_CHILD, env=cpu_tier_env(), args=[str(inp), str(out)], timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    cpu = torch.load(out)
    xg = x.cuda()
    gpu = {
        "colmajor": kernels.silu_mul_fp8_colmajor(xg),
        "colmajor_ue8m0": kernels.silu_mul_fp8_colmajor(xg, use_ue8m0=True),
        "packed": kernels.silu_mul_fp8_packed(xg),
    }
    torch.cuda.synchronize()
    failures = []
    envs = {"colmajor": R.gpu_envelope(x, "colmajor"),
            "colmajor_ue8m0": R.gpu_envelope(x, "colmajor", True),
            "packed": R.gpu_envelope(x, "packed")}
    for name, (q, s) in gpu.items():
        q_cpu, s_cpu = cpu[name]
        rep = compare(q, s, q_cpu, s_cpu, tier="gpu", envelope=envs[name])
        identical = torch.equal(q.cpu().view(torch.uint8), q_cpu.view(torch.uint8))
        print(f"{name}: GPU vs CPU tier: {rep} (codes identical: {identical})")
        if not rep:
            failures.append(f"{name}: {rep}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# the bug at full size (child processes; ~6 GB of GPU memory each)


@pytest.mark.slow
@pytest.mark.parametrize("kernel,index,rows_axis,verdict", [
    ("colmajor", "int32", 0, "illegal-memory-access"),
    ("colmajor", "int64", 0, "ok"),
    ("packed", "int64", 1, "launch-error"),
    ("packed", "int64", 0, "ok"),
], ids=["colmajor-int32", "colmajor-int64", "packed-int64-upstream-grid", "packed-int64-fixed-grid"])
def test_full_size_launch(kernel, index, rows_axis, verdict):
    res = repro.run(kernel, M_BIG, N_BIG, index, rows_axis=rows_axis, timeout=600)
    print(repro.one_line(res))
    assert res["verdict"] == verdict, json.dumps(res)
    assert res["exit"] == repro.EXIT[verdict]
    if verdict == "ok":
        assert res["q"] == [M_BIG, N_BIG // 2]
        cols = N_BIG // 256 if kernel == "colmajor" else N_BIG // 1024
        assert res["scales"] == [M_BIG, cols] and res["scale_strides"] == [1, M_BIG]



# ---------------------------------------------------------------------------------------------
# the offset analysis at its boundaries, on the device: for each kernel and grid, launch the last
# M the analysis calls safe and the first it calls unsafe (child processes, all at once)




# (kernel, N, index, rows_axis, block_m, groups_per_program): N chosen so that M stays small where
# the memory allows; every boundary sits at ~2**31 input elements (4 GiB bf16) except the grid's
BOUNDARIES = [
    ("colmajor", 32_768, "int32", 0, 8, 8),    # C1 row0 * N
    ("packed", 1_536, "int32", 0, 8, 1),       # P7 x_row + gid * 128 + k: the M = 1,398,102
    ("packed", 8_192, "int32", 1, 8, 1),       # upstream grid: the int32 offset comes first
    ("packed", 256, "int64", 1, 8, 1),         # upstream grid with the int64 fix: grid axis 1
]


@pytest.mark.slow
def test_analysis_boundaries_on_the_device():
    from concurrent.futures import ThreadPoolExecutor

    from kernels.offsets import analyze
    jobs = []
    for kernel, n, index, axis, b, gpp in BOUNDARIES:
        first = model_first_unsafe(kernel, n, index, axis, b, gpp)
        bad = analyze(kernel, first, n, index, axis, b, gpp)
        grid_only = bad.grid["ok"] is False and all(e["fits"] for e in bad.exprs)
        for m, want in ((first - 1, {"ok"}),
                        (first, {"launch-error"} if grid_only else
                         {"illegal-memory-access", "wrong-result"})):
            jobs.append((kernel, m, n, index, axis, b, gpp, want))
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda j: repro.run(
            j[0], j[1], j[2], j[3], j[4], timeout=300, block_m=j[5],
            groups_per_program=j[6] if j[0] == "colmajor" else None), jobs))
    failures = []
    for j, res in zip(jobs, results):
        line = repro.one_line(res)
        print(line)
        if res["verdict"] not in j[7]:
            failures.append(f"expected {sorted(j[7])}: {line}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# the default call: no device->host sync, one kernel, capturable in a CUDA graph


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_default_call_does_not_synchronise(kind):
    fn = kernels.silu_mul_fp8_colmajor if kind == "colmajor" else kernels.silu_mul_fp8_packed
    x = make_x(4096, 7168, torch.bfloat16, seed=3, device="cuda")
    fn(x)                                  # compile outside the checks
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        q, s = fn(x)                       # any synchronising operation raises here
        with pytest.raises(RuntimeError):  # and the mode does catch one: the opt-in check syncs
            fn(x, check_finite=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    # one kernel per call
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn(x)
        torch.cuda.synchronize()
    kernels_run = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    assert len(kernels_run) == 1, [e.name for e in kernels_run]
    # a CUDA graph captures the default call and replays it to the same result
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        qg, sg = fn(x)
    g.replay()
    torch.cuda.synchronize()
    assert torch.equal(qg.view(torch.uint8), q.view(torch.uint8)) and torch.equal(sg, s)


@pytest.mark.parametrize("kind", ["colmajor", "packed"])
def test_planned_launches_match_the_reference(kind, monkeypatch):
    """The first call launches through Triton's JIT, later ones through the plan's compiled-kernel
    launcher (kernels.plan): both against the reference, on new data each time, and on an x whose
    address is not 16-byte aligned (Triton specialises pointers on alignment: that is a new plan,
    never the aligned kernel run on a misaligned pointer)."""
    from kernels import colmajor, packed
    fn = kernels.silu_mul_fp8_colmajor if kind == "colmajor" else kernels.silu_mul_fp8_packed
    mod = colmajor if kind == "colmajor" else packed
    made, real = [], mod._plan
    monkeypatch.setattr(mod, "_plan", lambda *a, **k: made.append(1) or real(*a, **k))
    mod._PLANS.clear()
    m, n = 1000, 3072
    base = make_x(m * n + 8, 1, torch.bfloat16, seed=11, device="cuda").view(-1)
    inputs = [make_x(m, n, torch.bfloat16, seed=s, device="cuda") for s in (12, 13)]
    inputs.append(base[1:1 + m * n].view(m, n))          # 2 bytes past an aligned address
    assert inputs[-1].data_ptr() % 16 == 2
    for i, x in enumerate(inputs):
        got = fn(x)
        want = (kernels.silu_mul_fp8_colmajor_ref(x.cpu()) if kind == "colmajor"
                else kernels.silu_mul_fp8_packed_ref(x.cpu()))
        rep = compare(*got, *want, tier="gpu", envelope=R.gpu_envelope(x.cpu(), kind))
        assert rep, f"call {i}: {rep}"
    assert len(made) == 2, "one plan for the aligned inputs, one for the misaligned"
    assert all(p.runner is not None for p in mod._PLANS._plans.values()), "launched compiled"


@pytest.mark.parametrize("eps", ["min", "max"])
def test_eps_range_ends_match_the_reference(eps):
    from kernels.validate import EPS_MIN, FLT_MAX
    e = EPS_MIN if eps == "min" else FLT_MAX
    x = make_x(64, 1024, torch.bfloat16, seed=5, device="cuda")
    x[:, 128:256] = 0                      # an all-zero group: its scale is eps * fp32(1/448)
    x[:, 640:768] = 0
    for ue8m0 in (False, True):
        got = kernels.silu_mul_fp8_colmajor(x, eps=e, use_ue8m0=ue8m0)
        want = kernels.silu_mul_fp8_colmajor_ref(x.cpu(), ue8m0, e)
        rep = compare(*got, *want, tier="gpu", envelope=R.gpu_envelope(x.cpu(), "colmajor", ue8m0, e))
        assert rep, f"eps={e!r}, ue8m0={ue8m0}: {rep}"


# ---------------------------------------------------------------------------------------------
# the SwiGLU clamp (clamp_limit; the CPU tier's tests: tests/test_clamp.py)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_gpu_clamp_matches_the_reference_and_narrows_only_in_colmajor(dtype):
    """Both kernels with L in {7, 10, 7.01} on randn * 8 (gates above L, ups beyond +-L) against
    their references inside the GPU envelope; and L = 7.01, which neither bf16 nor fp16 holds:
    colmajor gives the bits of its T rounding (7.0 / 7.01171875), packed does not."""
    x = make_x(1024, 4096, dtype, seed=7, scale=8.0, device="cuda")
    xc = x.cpu()
    for limit in (7.0, 10.0, 7.01):
        for kind, ue8m0, calls in (("colmajor", False, [{}]), ("colmajor", True, [{}]),
                                   ("packed", False, [{"rows_axis": 0}, {"rows_axis": 1}])):
            if kind == "colmajor":
                want = kernels.silu_mul_fp8_colmajor_ref(xc, ue8m0, clamp_limit=limit)
            else:
                want = kernels.silu_mul_fp8_packed_ref(xc, clamp_limit=limit)
            env = R.gpu_envelope(xc, kind, ue8m0, clamp_limit=limit)
            for kw in calls:
                got = (kernels.silu_mul_fp8_colmajor(x, clamp_limit=limit, use_ue8m0=ue8m0)
                       if kind == "colmajor" else
                       kernels.silu_mul_fp8_packed(x, clamp_limit=limit, **kw))
                rep = compare(*got, *want, tier="gpu", envelope=env)
                print(f"L={limit} {kind} ue8m0={ue8m0} {kw}: {rep}")
                assert rep, f"L={limit} {kind} ue8m0={ue8m0} {kw}: {rep}"
    in_t = torch.tensor(7.01, dtype=torch.float32).to(dtype).item()
    a = kernels.silu_mul_fp8_colmajor(x, clamp_limit=7.01)
    b = kernels.silu_mul_fp8_colmajor(x, clamp_limit=in_t)
    assert torch.equal(a[0].view(torch.uint8), b[0].view(torch.uint8)) and torch.equal(a[1], b[1])
    c = kernels.silu_mul_fp8_packed(x, clamp_limit=7.01)
    d = kernels.silu_mul_fp8_packed(x, clamp_limit=in_t)
    diff = int((c[0].view(torch.uint8) != d[0].view(torch.uint8)).sum())
    print(f"{dtype}: packed codes that differ between L = 7.01 and L = {in_t}: {diff:,}")
    assert diff > 0
