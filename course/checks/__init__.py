"""The exercise checks: ``check_<id>(your_function)`` prints ✅ or ❌ and returns a Result.

``core`` is the framework; each exercise notebook has its own module, named like the notebook
(course/exercises.toml names the check of every exercise). Importing this package imports them
all, so a notebook can write ``from course.checks import check_group_scale``.
"""
from .audit import check_first_wrapping_rows, check_scatter_offsets
from .colmajor_store import check_scale_alloc, check_scale_offsets
from .core import Result, record_progress
from .grid_and_precheck import check_packed_grid, check_precheck
from .group_quant import check_fp8_quantize, check_group_scale
from .offsets_and_fix import check_first_failing_m, check_fix_offsets, check_largest_offset
from .silu_mul import check_silu_mul_kernel, check_silu_mul_launch
from .ue8m0_packing import check_pack_exponents, check_ue8m0_round

__all__ = [
    "Result", "record_progress",
    "check_silu_mul_kernel", "check_silu_mul_launch", "check_group_scale", "check_fp8_quantize",
    "check_scale_offsets", "check_scale_alloc", "check_ue8m0_round", "check_pack_exponents",
    "check_largest_offset", "check_first_failing_m", "check_fix_offsets", "check_packed_grid",
    "check_precheck", "check_first_wrapping_rows", "check_scatter_offsets",
]
