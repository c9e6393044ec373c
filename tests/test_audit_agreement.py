"""The audit agrees with the course's own offset analysis (kernels.offsets) on the course's kernels.

Which source expression is which offsets expression is read from the kernels themselves: each
analysed line carries its tags in a comment (`# C1`, `# P5, P6, P7`), and on that line the tag's
expression is the audit site whose text, written the way kernels.offsets writes it (subscripts
dropped, `tl.arange(0, X)` as `arange`, module constants by value), equals the offsets text. No
hand table: an edit to a kernel line, a tag or an offsets text that breaks the correspondence fails
here. The launches are course/audit/examples/course_kernels.toml (the launchers' arguments and
grids) with M, N and the flags set per case.

Tolerance (docs/audit.md, "masks are ignored"): the audit counts masked lanes, kernels.offsets
only the live ones. Rows of the last row block past M are masked, so over all M the audit may
name a first wrapping M up to BLOCK_M - 1 rows early, never late; at multiples of BLOCK_M they
agree exactly. In the packed kernel the unused groups of the last word (gid >= num_groups, masked)
count too: where num_groups is not a multiple of 4 the audit may be early by the rows those
columns span as well.
"""
import ast
import math
import pathlib
import re

import pytest
import triton.language as tl

import kernels.colmajor
import kernels.packed
from course.audit.cli import load_config
from course.audit.core import Launch, analyze_kernel, build_registry, first_wrap, load_file, run_kernel
from kernels import offsets

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "course" / "audit" / "examples" / "course_kernels.toml"
PY = {"colmajor": kernels.colmajor, "packed": kernels.packed}
MODS = {k: load_file(str(ROOT / "kernels" / f"{k}.py")) for k in PY}
NS = [256, 512, 1536, 2048, 2304, 4096, 6144, 7168, 8192, 14336, 24576, 32768]
BLOCK_M = 8
# The largest M at which every argument the launchers pass still fits int32 (round_up(M, 4) too).
# Beyond it Triton types M and the scale stride as int64 (a Python int >= 2**31 becomes i64).
M_TOP = 2**31 - 4
TAG = re.compile(r"\b([CSP]\d+)\b")


def kernel_fn(kernel):
    (fn,) = [f for f in MODS[kernel].jit if f.name.startswith("silu_mul")]
    return fn


def source_tags(kernel) -> dict:
    """{tag: (first, last line) of the statement whose line carries the tag comment}, for the
    code lines of the kernel's body (a comment may sit on a statement's continuation line)."""
    fn = kernel_fn(kernel)
    lines = MODS[kernel].source.splitlines()
    stmts = [s for s in ast.walk(fn) if isinstance(s, ast.stmt) and s is not fn]
    out = {}
    for ln in range(fn.body[0].lineno, fn.end_lineno + 1):
        code, hash_, comment = lines[ln - 1].partition("#")
        if hash_ and code.strip():
            inner = min((s for s in stmts if s.lineno <= ln <= s.end_lineno),
                        key=lambda s: s.end_lineno - s.lineno)
            for tag in TAG.findall(comment):
                assert tag not in out, (kernel, tag, "tagged twice")
                out[tag] = (inner.lineno, inner.end_lineno)
    return out


def constants(kernel) -> dict:
    """The kernel module's integer tl.constexpr globals, from the imported module (not the audit)."""
    return {k: v.value for k, v in vars(PY[kernel]).items()
            if isinstance(v, tl.constexpr) and isinstance(v.value, int) and not isinstance(v.value, bool)}


def normal(text, consts) -> str:
    t = text.split(" = ")[-1]
    t = re.sub(r"\s+\([a-z ]+\)$", "", t)          # "(the row mask)", "(output)"
    t = re.sub(r"\[[^\]]*\]", "", t)                 # [:, None]
    t = re.sub(r"(tl\.)?arange\([^)]*\)", "arange", t)
    for name, value in consts.items():
        t = re.sub(rf"\b{name}\b", str(value), t)
    return t.replace(" ", "")


def launch(kernel, n, index64, *, m=M_TOP, gpp=1, rows_axis=0, step=1) -> Launch:
    defaults, per = load_config(str(CONFIG))
    name = kernel_fn(kernel).name
    consts = {"INDEX_64": index64}
    consts |= {"GROUPS": gpp, "USE_UE8M0": False} if kernel == "colmajor" else \
        {"ROWS_ON_AXIS0": rows_axis == 0}
    return defaults.merged(per[name]).merged(Launch({"M": m, "N": n}, None, consts, ("M", step)))


def audit(kernel, lau):
    mod = MODS[kernel]
    return analyze_kernel(mod, kernel_fn(kernel), build_registry([mod]), lau)


def tag_sites(kernel, lau) -> dict:
    """{tag: site key} -- the audit's site for every expression kernels.offsets names."""
    mod, fn = MODS[kernel], kernel_fn(kernel)
    b, c, g = lau.resolve(flags={})
    sites = run_kernel(mod, fn, build_registry([mod]), b, c, g, {}).sites
    consts = constants(kernel)
    out = {}
    for tag, (first, last) in source_tags(kernel).items():
        want = normal(offsets.expr(kernel, tag).text, consts)
        here = {k: s for k, s in sites.items() if first <= s.line <= last}
        keys = {k for k, s in here.items() if normal(s.text, consts) == want}
        assert len(keys) == 1, (kernel, tag, first, want, [normal(s.text, consts) for s in here.values()])
        out[tag] = keys.pop()
    return out


def lint_first_wraps(kernel, lau) -> dict:
    """{tag: the first M (a multiple of the launch's step) at which the audit says it wraps}."""
    mod, fn = MODS[kernel], kernel_fn(kernel)
    cache: dict = {}
    return {tag: first_wrap(mod, fn, build_registry([mod]), lau, {}, key, "audit", cache)["value"]
            for tag, key in tag_sites(kernel, lau).items()}


def test_every_tag_in_the_source_is_an_offsets_expression_and_back():
    for kernel in PY:
        tags = set(source_tags(kernel))
        assert tags == {e.name for e in offsets.EXPRS[kernel]}, kernel
    assert "P4" not in source_tags("packed")     # P4 is the grid-axis-1 limit, not an expression


def test_the_config_grids_are_the_launchers_grids():
    for kernel, rows_axes in (("colmajor", (0,)), ("packed", (0, 1))):
        for n in (256, 1536, 4096, 8192, 32768):
            gpp = 8 if kernel == "colmajor" and (n // 256) % 8 == 0 else 1
            for rows_axis in rows_axes:
                for m in (1, 3, 4, 5, 8, 9, 1023, 524_416, 2**31 - 4):
                    got = launch(kernel, n, False, m=m, gpp=gpp, rows_axis=rows_axis).resolve(flags={})[2]
                    want = offsets.grid(kernel, m, n, BLOCK_M, rows_axis, gpp)
                    assert [g.hi for g in got][:len(want)] == list(want) and \
                        all(g.hi == 1 for g in got[len(want):]), (kernel, n, rows_axis, m)


def unused_lane_rows(kernel, n) -> int:
    """Rows spanned by the masked groups of the packed kernel's last word (0 when none)."""
    if kernel != "packed":
        return 0
    g = n // 256
    return math.ceil((-(-g // 4) * 4 - g) * offsets.GROUP / n)


CASES = [("colmajor", 0, 1), ("colmajor", 0, 8), ("packed", 0, 1), ("packed", 1, 1)]


@pytest.mark.parametrize("kernel, rows_axis, gpp", CASES)
def test_first_wrapping_m_per_expression_matches_kernels_offsets(kernel, rows_axis, gpp):
    checked = 0
    for n in NS:
        gpp_n = math.gcd(n // 256, gpp)
        a = offsets.analyze(kernel, 1024, n, "int32", rows_axis, BLOCK_M, gpp_n)
        extra = unused_lane_rows(kernel, n)
        for step, key in ((1, "first_bad_M"), (BLOCK_M, None), (offsets.ALIGN, "first_bad_M_aligned")):
            lint = lint_first_wraps(kernel, launch(kernel, n, False, gpp=gpp_n, rows_axis=rows_axis,
                                                   step=step))
            for e in a.exprs:
                if key is None:
                    want = offsets.first_bad_m(kernel, e["name"], n, BLOCK_M, BLOCK_M)
                else:
                    want = e[key]
                want = want if want is not None and want <= M_TOP else None
                got = lint[e["name"]]
                early = (BLOCK_M - 1 if step == 1 else 0) + extra   # rows the audit may count early
                if want is None:
                    assert got is None or extra and got > M_TOP - early - step, (kernel, n, e["name"], got)
                else:
                    assert got is not None and want - early - step < got <= want, \
                        (kernel, n, e["name"], e["text"], step, got, want)
                    if not extra and step > 1:
                        assert got == want
                checked += 1
    assert checked == len(NS) * 3 * len(offsets.EXPRS[kernel])


def first_bad(kernel, name, n, key="first_bad_M"):
    return next(e for e in offsets.analyze(kernel, 1024, n, "int32").exprs if e["name"] == name)[key]


@pytest.mark.parametrize("kernel, rows_axis, gpp", CASES)
def test_fixed_variant_is_safe_where_the_bug_wraps(kernel, rows_axis, gpp):
    for n in (1536, 4096, 8192, 32768):
        m = 4 * first_bad(kernel, "C1" if kernel == "colmajor" else "P1", n)
        gpp_n = math.gcd(n // 256, gpp)
        fixed = audit(kernel, launch(kernel, n, True, m=m, gpp=gpp_n, rows_axis=rows_axis))
        # colmajor keeps small in-block int32 products (rows * N, rows * half): listed, and safe
        assert bool(fixed.findings) == (kernel == "colmajor")
        assert {f.verdict for f in fixed.findings} <= {"safe"}, [f.describe() for f in fixed.findings]
        assert offsets.analyze(kernel, m, n, "int64", rows_axis, BLOCK_M, gpp_n).safe or \
            rows_axis == 1        # upstream's 2-D grid fails on its axis-1 limit, not on offsets
        bug = audit(kernel, launch(kernel, n, False, m=m, gpp=gpp_n, rows_axis=rows_axis))
        assert "wraps" in {f.verdict for f in bug.findings}


@pytest.mark.parametrize("kernel, rows_axis", [("colmajor", 0), ("packed", 0), ("packed", 1)])
def test_bug_verdict_flips_exactly_where_the_analysis_does(kernel, rows_axis):
    """At the last M (multiple of 128) kernels.offsets' offsets all fit, the audit finds nothing
    that wraps; at the first where one does not, the audit says that expression wraps."""
    for n in (1536, 4096, 8192, 14336):
        gpp = 8 if kernel == "colmajor" and (n // 256) % 8 == 0 else 1
        first = min(e["first_bad_M_aligned"] for e in
                    offsets.analyze(kernel, 1024, n, "int32", rows_axis, BLOCK_M, gpp).exprs
                    if e["first_bad_M_aligned"])
        for m in (first - offsets.ALIGN, first):
            a = offsets.analyze(kernel, m, n, "int32", rows_axis, BLOCK_M, gpp)
            bad = {e["name"] for e in a.exprs if not e["fits"]}
            lau = launch(kernel, n, False, m=m, gpp=gpp, rows_axis=rows_axis)
            sites = tag_sites(kernel, lau)
            found = audit(kernel, lau).findings
            wraps = {f.line for f in found if f.verdict == "wraps"}
            assert bool(bad) == (m == first) == bool(wraps), (kernel, n, m, bad, wraps)
            assert wraps <= {sites[t][1] for t in bad}, (kernel, n, m, bad, wraps)


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
    """Issue 9: x_row[:, None] + gid * GROUP + k[None, :] (P7) wraps at an M where rows * N (P1)
    fits; the first such M is found by brute force over the kernel's expression, not by either
    analysis."""
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
        lint = lint_first_wraps("packed", launch("packed", n, False, step=8))
        assert lint["P7"] == first_sum, n
        if first_sum < lint["P1"]:
            hits += 1
            lau = launch("packed", n, False, m=first_sum)
            sites = tag_sites("packed", lau)
            verdicts = {(f.line, f.col - 1): f.verdict for f in audit("packed", lau).findings}
            assert verdicts[sites["P1"][1:3]] == "safe" and verdicts[sites["P7"][1:3]] == "wraps"
    assert hits > 0


def test_module_constants_are_resolved_on_the_course_kernels(capsys):
    """The kernels read GROUP, GROUPS_PER_WORD through tl.constexpr globals of other modules
    (kernels/reference.py, kernels/offsets.py): at the config's launch nothing is unknown."""
    import json

    from course.audit.cli import main
    status = main([str(ROOT / "kernels"), "--config", str(CONFIG), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert status == 1 and rep["summary"]["unknown"] == 0 and not any(k["error"] for k in rep["kernels"])
    by = {}
    for f in rep["findings"]:
        by.setdefault((f["kernel"], f["verdict"]), set()).add(f["variant"].get("INDEX_64"))
    assert {k for k in by if k[1] == "wraps"} == {("silu_mul_fp8_colmajor_kernel", "wraps"),
                                                  ("silu_mul_fp8_packed_kernel", "wraps")}
    assert all(v == {False} for (_, verdict), v in by.items() if verdict == "wraps")


def test_the_documented_course_run_at_n_4096(capsys):
    """docs/audit.md: with --bound N=4096 the config still bisects M (its `vary`), and the
    wrapping expressions are C1, P1 and P7, first at offsets' first bad M among multiples of 128."""
    import json

    from course.audit.cli import main
    status = main([str(ROOT / "kernels"), "--config", str(CONFIG), "--bound", "N=4096", "--json"])
    rep = json.loads(capsys.readouterr().out)
    wraps = {(f["kernel"], f["line"]): f["first_wrap"] for f in rep["findings"] if f["verdict"] == "wraps"}
    s = rep["summary"]
    assert status == 1 and (s["wraps"], s["unknown"]) == (3, 0)
    want = {}
    for kernel, tags in (("colmajor", ("C1",)), ("packed", ("P1", "P7"))):
        for tag in tags:
            line = source_tags(kernel)[tag][0]
            want[(kernel_fn(kernel).name, line)] = {
                "name": "M", "value": offsets.first_bad_m(kernel, tag, 4096, BLOCK_M, offsets.ALIGN)}
    assert wraps == want
