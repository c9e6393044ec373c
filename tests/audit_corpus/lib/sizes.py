"""Constants of the c14 corpus case, in a sibling module (read by the audit as text, never imported)."""
import triton.language as tl

BLOCK_ROWS = 16
ROWS_PER_PROGRAM = tl.constexpr(BLOCK_ROWS // 2)
