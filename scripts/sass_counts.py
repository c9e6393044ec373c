"""SASS instructions per element of each kernel for sm_90, in its GPU spelling and spelled as upstream.

    python scripts/sass_counts.py results/gpu/h200        (no GPU needed: compiles for sm_90 here)

For each kernel, at the two target shapes, the tile comes from OUT_DIR/tiles.json (the table
`kernels bench --sweep` recorded on that GPU). Each kernel is compiled twice (packed three times):
- as the course launches it on a GPU (kernels.gpu_math's spelling);
- as kernels.bench.PLAIN rebuilds it (tl.exp(-g), and the clamp before the fp8 cast);
- packed only, a third time, as kernels.bench.group_loop() rebuilds it (GPU spelling, upstream's loop
  over the word's four groups instead of one tile: lesson 09, "The word as one tile"), as "group_loop".
Each cubin is disassembled with the nvdisasm that ships with Triton, and the instructions are counted
by opcode, and the order of the global loads and stores is kept (`loads_and_stores`: L and S in
program order). The kernels have no loops (the packed word's four groups are unrolled), so a warp runs
each instruction at most once: instructions x 32 lanes x warps / elements per program is the count per
output element. NOP padding and the final branch-to-itself, which never run, are not counted; a warp
whose rows all lie past the scales' padding exits before the last store, so the count is what a full
warp runs. Writes OUT_DIR/sass_sm90.json; lesson 09 shows it.
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
if __name__ == "__main__":
    os.environ["TRITON_INTERPRET"] = "0"      # compile for a GPU, whatever this machine has (not on import:
                                              # a test imports count() into a process on the CPU tier)

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

from kernels import bench, colmajor, compile as kc, packed, tiles  # noqa: E402

SHAPES = {"large": (524_416, 8_192), "small": (4_096, 7_168)}
OPCODE = re.compile(r"^\s*/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_]*)")


def table_tile(table: dict, kernel: str, m: int, n: int) -> dict:
    by_n = table["tiles"][kernel][tiles.bucket(m)]
    best = min(by_n, key=lambda k: (abs(int(k) - n), int(k)))   # this N, else the nearest recorded
    return by_n[best]


def compile_sass(fn, kernel: str, m: int, n: int, tile: dict) -> tuple[str, int]:
    """(SASS text, elements per program) of fn compiled for sm_90 with the launcher's arguments."""
    base = "packed" if kernel == "packed" else "colmajor"
    values, ptrs, consts, options = kc._launch_args(base, "bf16", False, m, n, tile,
                                                    use_ue8m0=kernel == "colmajor_ue8m0")
    consts["SOFTWARE_FP8"] = False                       # sm_90 converts fp8 in hardware
    per_program = 4 if kernel == "packed" else consts["GROUPS"]   # 128-column groups
    compiled = kc._compile(kc._source(fn, values, ptrs, consts), GPUTarget("cuda", 90, 32), options)
    return kc.disassemble(compiled), tile["block_m"] * per_program * 128


def memory_order(sass: str) -> str:
    """The global loads (L) and stores (S) in program order: where the compiler put them."""
    return "".join("L" if m.group(1) == "LDG" else "S" for line in sass.splitlines()
                   if (m := OPCODE.match(line)) and m.group(1) in ("LDG", "STG"))


def count(sass: str) -> collections.Counter:
    """Instructions by opcode, without what never runs: NOP padding, and the branch-to-itself after the
    last EXIT that ends every cubin."""
    ops = collections.Counter()
    lines = [m for line in sass.splitlines() if (m := OPCODE.match(line))]
    last_exit = max((i for i, m in enumerate(lines) if m.group(1) == "EXIT"), default=-1)
    for i, m in enumerate(lines):
        op = m.group(1)
        if op == "NOP" or (op == "BRA" and i > last_exit):
            continue
        ops[op] += 1
    # a disassembly this parser misread would give counts without the kernels' known instructions
    missing = {"LDG", "STG", "MUFU", "EXIT"} - set(ops)
    if missing:
        raise RuntimeError(f"nvdisasm output not understood: no {sorted(missing)} found")
    return ops


def main(out: str) -> int:
    path = os.path.join(out, "tiles.json")
    try:
        with open(path) as f:
            table = json.load(f)
        for kernel in ("colmajor", "colmajor_ue8m0", "packed"):
            for m, n in SHAPES.values():
                table_tile(table, kernel, m, n)
    except (OSError, ValueError) as e:
        sys.exit(f"sass_counts: cannot read {path} ({e}); record one with python -m kernels bench --sweep")
    except (KeyError, TypeError, AttributeError) as e:
        sys.exit(f"sass_counts: {path} has no tile for {e} (kernels.tiles format, both M buckets needed)")
    records = []
    for shape, (m, n) in SHAPES.items():
        for kernel in ("colmajor", "colmajor_ue8m0", "packed"):
            module, name = ((packed, "silu_mul_fp8_packed_kernel") if kernel == "packed"
                            else (colmajor, "silu_mul_fp8_colmajor_kernel"))
            tile = table_tile(table, kernel, m, n)
            base = "packed" if kernel == "packed" else "colmajor"
            variants = [("gpu", getattr(module, name)),
                        ("plain", bench.kernel_variant(module, name, *bench.PLAIN[base], "plain"))]
            if kernel == "packed":   # upstream's loop (lesson 09, "The word as one tile")
                variants.append(("group_loop", bench.kernel_variant(module, name, *bench.group_loop(),
                                                                    "group_loop")))
            for spelling, fn in variants:
                sass, elements = compile_sass(fn, kernel, m, n, tile)
                ops = count(sass)
                per_element = sum(ops.values()) * 32 * tile["num_warps"] / elements
                records.append({"kernel": kernel, "shape": shape, "M": m, "N": n, "tile": tile,
                                "spelling": spelling, "per_element": round(per_element, 2),
                                "instructions_per_warp": sum(ops.values()),
                                "loads_and_stores": memory_order(sass),
                                "opcodes": dict(ops.most_common())})
                print(f"{kernel:<15} {shape:<5} {spelling:<5} {per_element:5.1f} per element "
                      f"({sum(ops.values())} per warp, tile {tile}) {memory_order(sass)}")
    doc = {"what": "SASS instructions per output element, compiled for sm_90 (see the script's docstring)",
           "command": f"python scripts/sass_counts.py {out}",
           "date": datetime.date.today().isoformat(), "triton": triton.__version__,
           "tiles_from": os.path.join(out, "tiles.json"), "target": "cuda sm_90 (compiled without a GPU)",
           "records": records}
    with open(os.path.join(out, "sass_sm90.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
