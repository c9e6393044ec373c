"""The audit agrees with the course's own offset analysis (kernels.offsets) on the course's kernels.

The launches below mirror the launchers (kernels/colmajor.py, kernels/packed.py): the arguments
they pass (n // 2, scales.stride(1) = round_up(M, 4), g // gpp, words) and their grids. For each
expression kernels.offsets names, the first M at which the audit says it wraps (bisection over its
interval evaluation of the kernel's source) must equal the first bad M of kernels.offsets, over
many N; the INDEX_64=True variants must not wrap at all.
"""
import pathlib
import math

import pytest

from course.audit.core import Launch, analyze_kernel, build_registry, load_file
from kernels import offsets

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODS = {k: load_file(str(ROOT / "kernels" / f"{k}.py")) for k in ("colmajor", "packed")}
# kernels.offsets expression name -> the expression as the kernel's source writes it
SOURCE_TEXT = {
    "C3": "pid_m * BLOCK_M", "C1": "row0 * N", "C2": "row0 * half", "S1": "groups[None, :] * s_stride",
    "P1": "rows * N", "P2": "rows * half", "P3": "pid_p * s_stride",
}
NS = [256, 512, 1536, 2048, 2304, 4096, 6144, 7168, 8192, 14336, 24576, 32768]
# The largest M at which every argument the launchers pass still fits int32 (round_up(M, 4) too).
# Beyond it Triton types M and the scale stride as int64 (a Python int >= 2**31 becomes i64), so a
# product with them no longer wraps: kernels.offsets, which assumes int32 throughout, stops applying.
M_TOP = 2**31 - 4


def launch(kernel, n, index64, block_m=8, gpp=1, rows_axis=0, m=M_TOP, step=1):
    g = n // 2 // 128
    bounds = {"M": m, "N": n, "half": "N // 2", "s_stride": "round_up(M, 4)"}
    if kernel == "colmajor":
        bounds["col_blocks"] = g // gpp
        consts = {"BLOCK_M": block_m, "GROUPS": gpp, "INDEX_64": index64, "USE_UE8M0": False}
        grid = ["cdiv(M, BLOCK_M) * col_blocks"]
    else:
        bounds |= {"NUM_GROUPS": g, "words": -(-g // 4)}
        consts = {"BLOCK_M": block_m, "INDEX_64": index64, "ROWS_ON_AXIS0": rows_axis == 0}
        grid = ["cdiv(M, BLOCK_M) * words"] if rows_axis == 0 else ["words", "cdiv(M, BLOCK_M)"]
    return Launch(bounds, grid, consts, ("M", step))


def audit(kernel, lau):
    mod = MODS[kernel]
    fn = mod.jit[0]
    return analyze_kernel(mod, fn, build_registry([mod]), lau)


def first_wraps(kernel, lau):
    """{expression text: first wrapping M} for every finding that wraps at M_TOP."""
    out = {}
    for f in audit(kernel, lau).findings:
        if f.verdict == "wraps":
            v = f.first_wrap["value"]
            out[f.expr] = v if f.expr not in out else min(out[f.expr], v)
    return out


CASES = [("colmajor", 0, 1), ("colmajor", 0, 8), ("packed", 0, 1), ("packed", 1, 1)]


@pytest.mark.parametrize("kernel, rows_axis, gpp", CASES)
def test_first_wrapping_m_per_expression_matches_kernels_offsets(kernel, rows_axis, gpp):
    checked = 0
    for n in NS:
        g = n // 256
        gpp_n = math.gcd(g, gpp)
        a = offsets.analyze(kernel, 1024, n, "int32", rows_axis, 8, gpp_n)
        for step, key in ((1, "first_bad_M"), (offsets.ALIGN, "first_bad_M_aligned")):
            lint = first_wraps(kernel, launch(kernel, n, False, 8, gpp_n, rows_axis, step=step))
            for e in a.exprs:
                want = e[key] if e[key] is not None and e[key] <= M_TOP else None
                # The audit ignores masks: in the packed kernel the rows of the last block past M
                # (masked) count, so at step 1 it may name an M up to BLOCK_M - 1 rows earlier,
                # never later. At multiples of 128 (of BLOCK_M) both must agree exactly.
                tolerant = kernel == "packed" and step == 1 and want is not None

                def agrees(got, want=want, tolerant=tolerant):
                    return got is not None and want - 8 < got <= want if tolerant else got == want
                if e["name"] in SOURCE_TEXT:
                    got = lint.get(SOURCE_TEXT[e["name"]])
                    assert agrees(got), (kernel, n, e["name"], step, got, want)
                else:   # an expression kernels.offsets added later: some finding must agree
                    assert want is None or any(agrees(v) for v in lint.values()), \
                        (kernel, n, e["name"], e.get("text"), step, want, lint)
                checked += 1
    assert checked >= len(NS) * 2 * 3


@pytest.mark.parametrize("kernel, rows_axis, gpp", CASES)
def test_fixed_variant_is_safe_where_the_bug_wraps(kernel, rows_axis, gpp):
    for n in (1536, 4096, 8192, 32768):
        m = 4 * first_bad(kernel, "C1" if kernel == "colmajor" else "P1", n)
        fixed = audit(kernel, launch(kernel, n, True, 8, math.gcd(n // 256, gpp), rows_axis, m=m))
        # colmajor keeps small in-block int32 products (rows * N): listed, and safe
        assert bool(fixed.findings) == (kernel == "colmajor")
        assert {f.verdict for f in fixed.findings} <= {"safe"}, [f.describe() for f in fixed.findings]
        bug = audit(kernel, launch(kernel, n, False, 8, math.gcd(n // 256, gpp), rows_axis, m=m))
        assert "wraps" in {f.verdict for f in bug.findings}


def first_bad(kernel, name, n, key="first_bad_M"):
    return next(e for e in offsets.analyze(kernel, 1024, n, "int32").exprs if e["name"] == name)[key]


def test_verdict_flips_exactly_at_the_analysis_threshold():
    """At the last M (multiple of 128) kernels.offsets calls safe, the audited expression is safe;
    at the first it calls unsafe, the audit says it wraps."""
    for kernel, name in (("colmajor", "C1"), ("colmajor", "C2"), ("packed", "P1"), ("packed", "P2")):
        for n in (1536, 4096, 14336):
            first = first_bad(kernel, name, n, "first_bad_M_aligned")
            for m, verdict in ((first - offsets.ALIGN, "safe"), (first, "wraps")):
                e = next(e for e in offsets.analyze(kernel, m, n, "int32").exprs if e["name"] == name)
                assert e["fits"] == (verdict == "safe")
                f = next(f for f in audit(kernel, launch(kernel, n, False, m=m)).findings
                         if f.expr == SOURCE_TEXT[name])
                assert f.verdict == verdict, (kernel, name, n, m, f.describe())


def packed_offsets_brute_force(m, n):
    """Largest x offset the packed kernel forms in int32 for live lanes (rows < M, groups < G):
    the kernel's own expression x_row + gid * 128 + k, and + half for the up half, enumerated."""
    g = n // 256
    top = 0
    for r in (m - 1,):                       # offsets grow with the row: the last live row
        for gid in range(g):
            for k in (0, 127):
                top = max(top, r * n + gid * 128 + k)
    return top


def test_the_sum_in_the_packed_kernel_is_caught_where_the_products_fit():
    """Issue 9: x_row[:, None] + gid * 128 + k[None, :] wraps at an M where rows * N fits."""
    hits = 0
    for n in range(1024, 32769, 1024):        # G = N/256 a multiple of 4: no unused lanes
        # bisection on the brute force (monotone in M), multiples of BLOCK_M = 8
        lo, hi = 1, (2**31 // n + 2) // 8 + 2
        while lo < hi:
            mid = (lo + hi) // 2
            if packed_offsets_brute_force(mid * 8, n) > 2**31 - 1:
                hi = mid
            else:
                lo = mid + 1
        first_sum = lo * 8
        lint = first_wraps("packed", launch("packed", n, False, step=8))
        assert lint["x_row[:, None] + gid * 128 + k[None, :]"] == first_sum, n
        p1 = first_bad("packed", "P1", n)
        if first_sum < p1:
            hits += 1
            at = audit("packed", launch("packed", n, False, m=first_sum))
            verdicts = {f.expr: f.verdict for f in at.findings}
            assert verdicts["rows * N"] == "safe" and \
                verdicts["x_row[:, None] + gid * 128 + k[None, :]"] == "wraps"
    assert hits > 0
