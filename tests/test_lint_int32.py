"""The int32 program-id lint (course/lint_int32.py) on small kernels and on the course's kernels."""
import triton
import triton.language as tl

import kernels  # noqa: F401  (picks the tier before the @triton.jit below)
from course.lint_int32 import compare_table, lint
from kernels.colmajor import silu_mul_fp8_colmajor_kernel
from kernels.packed import silu_mul_fp8_packed_kernel

BUGGY = """
def k(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    row0 = pid * BLOCK
    offs = row0 * N + tl.arange(0, BLOCK)
    tl.load(x_ptr + offs)
"""

FIXED = """
def k(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    row0 = pid * BLOCK
    offs = row0 * N + tl.arange(0, BLOCK)
    tl.load(x_ptr + offs)
"""

CAST_AFTER = """
def k(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    base = (pid * BLOCK * N).to(tl.int64)
    tl.load(x_ptr + base + tl.arange(0, BLOCK))
"""


def texts(report, only_findings=False):
    return [s.text for s in (report.findings if only_findings else report.sites)]


def test_buggy_kernel_flags_both_products_and_their_sum():
    r = lint(BUGGY)
    assert not r.ok
    assert texts(r, True) == ["pid * BLOCK", "row0 * N", "row0 * N + tl.arange(0, BLOCK)"]
    assert [s.kind for s in r.findings] == ["product", "product", "sum"]
    assert "❌" in str(r) and "2 int32 program-id product(s) and 1 sum(s)" in str(r)


def test_widened_id_is_clean_and_sites_still_listed():
    r = lint(FIXED)
    assert r.ok and "✅" in str(r)
    assert texts(r) == ["pid * BLOCK", "row0 * N"]
    assert all(not s.int32 for s in r.sites)


def test_cast_after_the_multiply_is_still_a_finding():
    r = lint(CAST_AFTER)
    assert not r.ok
    assert [s.cast_after for s in r.findings] == [True, True]
    assert texts(r, True) == ["pid * BLOCK", "pid * BLOCK * N"]


def test_product_that_never_reaches_memory_is_not_a_finding():
    r = lint("""
def k(x_ptr, M, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK + tl.arange(0, BLOCK)
    mask = rows < M
    tl.store(x_ptr + tl.arange(0, BLOCK), 1.0, mask=mask)
""")
    assert r.ok
    assert [(s.text, s.int32, s.reaches_pointer) for s in r.sites] == [("pid * BLOCK", True, False)]


def test_widening_must_dominate_the_multiply():
    src = """
def k(x_ptr, N, WIDE: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    if WIDE:
        pid = pid.to(tl.int64)
    tl.load(x_ptr + pid * N + tl.arange(0, BLOCK))
"""
    assert not lint(src)                      # one path reaches the multiply in int32
    assert not lint(src, {"WIDE": False})
    assert lint(src, {"WIDE": True})
    both = """
def k(x_ptr, N, WIDE: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    if WIDE:
        pid = pid.to(tl.int64)
    else:
        pid = tl.cast(pid, tl.int64)
    tl.load(x_ptr + pid * N + tl.arange(0, BLOCK))
"""
    assert lint(both)


def test_augmented_assignment_and_transitive_names():
    r = lint("""
def k(x_ptr, N):
    a = tl.program_id(1)
    b = a + 1
    b *= N
    tl.store(x_ptr + b, 0)
""")
    assert texts(r, True) == ["b *= N"]


@triton.jit
def _jit_buggy(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * N + tl.arange(0, BLOCK), 0.0)


def test_accepts_a_jit_function_and_reports_file_lines():
    r = lint(_jit_buggy)
    assert r.function == "_jit_buggy"
    (site,) = r.findings
    assert site.text == "pid * N"
    src_line = _jit_buggy.fn.__code__.co_firstlineno + 3   # decorator line, def, pid, store
    assert site.line == src_line


def test_course_kernels_int32_variant_is_flagged_and_int64_variant_clean():
    for kern, must in ((silu_mul_fp8_colmajor_kernel, "row0 * N"), (silu_mul_fp8_packed_kernel, "rows * N")):
        bug, fix, merged = (lint(kern, {"INDEX_64": False}), lint(kern, {"INDEX_64": True}), lint(kern))
        assert must in texts(bug, True)
        assert fix.ok and fix.sites and all(not s.int32 for s in fix.sites)
        assert texts(merged, True) == texts(bug, True)   # the cast sits in a branch: no dominance
        table = compare_table(kern, "INDEX_64")
        assert "INDEX_64=True: ✅" in table and "INDEX_64=False: ❌" in table


SUMS = """
def k(x_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK + tl.arange(0, BLOCK)
    x_row = rows * N
    k = tl.arange(0, 128)
    offs = x_row[:, None] + pid * 128 + k[None, :]
    tl.load(x_ptr + offs)
    tl.load(x_ptr + x_row[:, None] + pid * 128 + k[None, :])
"""


def test_sums_of_products_are_checked_too():
    """Issue 9: x_row + gid * 128 + k wraps even where each product fits; the old lint missed it."""
    r = lint(SUMS)
    sums = [s for s in r.findings if s.kind == "sum"]
    # the outermost int32 sum on line 7 (its inner partial sum is not listed again), and the rows
    # sum that feeds x_row; line 9 adds to the pointer one term at a time: 64-bit, no int32 sum
    assert [(s.line, s.text) for s in sums] == [
        (4, "pid * BLOCK + tl.arange(0, BLOCK)"), (7, "x_row[:, None] + pid * 128 + k[None, :]")]
    assert "int32 sum -> reaches a pointer: FINDING" in str(r)
    widened = lint(SUMS.replace("tl.program_id(0)", "tl.program_id(0).to(tl.int64)"))
    assert widened.ok and not [s for s in widened.sites if s.kind == "sum"]


def test_course_packed_kernel_sum_is_a_finding_of_the_bug_variant_only():
    bug = lint(silu_mul_fp8_packed_kernel, {"INDEX_64": False})
    assert "x_row[:, None, None] + gid[None, :, None] * GROUP + k[None, None, :]" in [
        s.text for s in bug.findings if s.kind == "sum"]
    assert lint(silu_mul_fp8_packed_kernel, {"INDEX_64": True}).ok
