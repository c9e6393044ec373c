"""Lesson 00, the environment doctor: canary kernels, the GPU and memory check, the verdict table.

The two canary kernels are the only Triton code here; the notebook shows them with kit.show_source.
"""
from __future__ import annotations

import platform

from kernels import tier  # first: it sets TRITON_INTERPRET before triton.language is imported

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from kernels import fp8  # noqa: E402
from kernels.reference import FP8, GROUP, round_up  # noqa: E402

from . import kit  # noqa: E402
from .kit import MARK  # noqa: E402

DEMO_M, DEMO_N = 524_416, 4_096   # the PR's reproducer shape: the first aligned M that overflows


def demo_bytes(m: int = DEMO_M, n: int = DEMO_N) -> dict[str, int]:
    """Bytes of every buffer of one full-size colmajor launch, from the shapes alone."""
    g = n // 2 // GROUP
    return {"input x [M, N] bf16": m * n * 2,
            "output q [M, N/2] fp8": m * (n // 2),
            "scales [M, N/256] fp32 (column stride round_up(M,4))": g * round_up(m, 4) * 4}


@triton.jit
def canary_add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


@triton.jit
def canary_fp8_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr, SOFTWARE: tl.constexpr = False):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    fp8.store_e4m3(out_ptr + offs, x, mask, SOFTWARE)   # the kernels' own fp8 store, either path


def canary_add(n: int = 1000) -> tuple[int, int]:
    """x + y with a known answer (x = i, y = 2i -> 3i, exact in fp32). Returns (correct, n)."""
    i = torch.arange(n, dtype=torch.float32, device=tier.DEVICE)
    out = torch.full_like(i, -1.0)
    canary_add_kernel[(triton.cdiv(n, 256),)](i, 2 * i, out, n, BLOCK=256)
    return int((out == 3 * i).sum()), n


FP8_TIE = 1.0625   # exactly halfway between the e4m3 values 1.0 and 1.125: round to even gives 1.0


def canary_fp8_tie(value: float = FP8_TIE) -> tuple[float | None, float]:
    """(what a Triton kernel's fp32 -> fp8 e4m3 store gives, what torch gives) for one value.

    The store is the kernels' own (kernels.fp8): the GPU's conversion from sm_89, the integer encoder
    below. The kernel's result is None (and the reason is printed) if it cannot run.
    """
    x = torch.tensor([value], dtype=torch.float32, device=tier.DEVICE)
    out = torch.empty(1, dtype=FP8, device=tier.DEVICE)
    want = x.cpu().to(FP8).float().item()
    try:
        out_arg, software = fp8.kernel_output(out)
        canary_fp8_kernel[(1,)](x, out_arg, 1, BLOCK=2, SOFTWARE=software)
    except Exception as e:  # noqa: BLE001 -- reported, the doctor goes on
        first = next((ln for ln in str(e).splitlines() if ln.strip()), "")
        print(f"the fp8 canary kernel did not run: {type(e).__name__}: {first[:200]}")
        return None, want
    return out.float().item(), want


def gpu_info() -> dict | None:
    """Name, compute capability, FP8 support and memory of GPU 0; None without a GPU."""
    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info(0)
    return {"name": p.name, "capability": f"sm_{p.major}{p.minor}",
            "fp8_e4m3": (p.major, p.minor) >= (8, 9), "free_bytes": free, "total_bytes": total}


def doctor_report() -> dict:
    """Every check of lesson 00 as one JSON-friendly dict (also what a recorded GPU run stores)."""
    import numpy
    added, n = canary_add()
    got, want = canary_fp8_tie()
    gpu = gpu_info()
    need = sum(demo_bytes().values())
    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "triton": triton.__version__, "numpy": numpy.__version__,
        "tier": tier.describe(), "interpreted": tier.INTERPRETED, "corrected": tier.CORRECTED,
        "canary_add": f"{added} of {n} correct", "canary_add_ok": added == n,
        "canary_fp8_tie": f"{FP8_TIE} -> kernel {got}, torch {want}", "canary_fp8_ok": got == want,
        "gpu": gpu, "demo_bytes": need,
        "demo_fits": bool(gpu and gpu["free_bytes"] >= need),
    }


def verdict_rows(r: dict) -> list[tuple[str, str, str]]:
    """(check, status, detail) rows of the verdict table."""
    gib = 2**30
    py_ok = tuple(int(v) for v in r["python"].split(".")[:2]) >= (3, 11)
    rows = [("Python >= 3.11", MARK[py_ok], r["python"]),
            ("triton 3.6.0 (pinned)", MARK[r["triton"] == "3.6.0"], r["triton"])]
    torch_ok = r["torch"].startswith("2.13.0") or (not r["interpreted"] and r["torch"].startswith("2.11"))
    rows.append(("torch 2.13.0 (GPU tier: 2.11 also verified)", MARK[torch_ok], r["torch"]))
    rows.append(("Triton kernel canary (x + 2x = 3x)", MARK[r["canary_add_ok"]], r["canary_add"]))
    rows.append(("fp8 tie: kernel cast == torch", MARK[r["canary_fp8_ok"]], r["canary_fp8_tie"]))
    if r["interpreted"]:
        rows.append(("GPU rounding correction", MARK[r["corrected"]],
                     "on" if r["corrected"] else "OFF (KERNELS_RAW_INTERPRETER=1)"))
    gpu = r["gpu"]
    if gpu is None:
        rows.append(("GPU", "--", "no GPU: CPU tier"))
    else:
        rows.append(("GPU", MARK[True], f"{gpu['name']} ({gpu['capability']})"))
        path, _ = tier.fp8_path()
        how = {"hardware": "the GPU's own conversion, sm_89+", "software": "integer encoder, kernels/fp8.py"}
        rows.append(("fp8 conversion (kernels.fp8)", MARK[True], f"{path} ({how[path]})"))
        rows.append(("free memory for the full-size demo", MARK[r["demo_fits"]],
                     f"{gpu['free_bytes'] / gib:.1f} GiB free, {r['demo_bytes'] / gib:.2f} GiB needed"))
    return rows


def tier_verdict(r: dict) -> str:
    core = all(s != MARK[False] for _, s, _ in verdict_rows(r)[:5])
    if not core:
        return "NOT READY: fix the ❌ rows above (reinstall with `make setup`) before the lessons."
    if r["gpu"] is None:
        return ("CPU tier: every lesson runs here (the Triton interpreter, with GPU rounding); the "
                "full-size crash and the timings are shown from recorded GPU runs.")
    if r["demo_fits"]:
        return "GPU tier: every lesson runs here, including the full-size reproduction."
    return ("GPU tier, partial: the small lessons run on this GPU; the full-size demo needs more free "
            "memory (see the rows above).")


def show_recorded(name: str = "doctor") -> dict | None:
    """The doctor's verdict rows as a recorded GPU run printed them (kit.recorded for the banner)."""
    rec = kit.recorded(name)
    if rec is None:
        return None
    records = rec["records"]
    if name == "doctor" and "capability" in records:
        need = sum(demo_bytes().values()) / 2**30
        free = records.get("free_gib")
        rows = [("GPU", MARK[True], f"{records.get('name', rec['device'])} ({records['capability']})"),
                ("FP8 e4m3 in hardware (sm_89+)", MARK[bool(records.get("fp8_e4m3"))],
                 records["capability"])]
        if free is not None:
            rows.append(("free memory for the full-size demo", MARK[free >= need],
                         f"{free:.1f} GiB free, {need:.2f} GiB needed"))
        rows += [(k, "", v) for k, v in records.items()
                 if k not in ("name", "capability", "fp8_e4m3", "free_gib")]
        kit.print_table(rows)
    elif isinstance(records, dict):
        kit.print_table([(k, "", v) for k, v in records.items()], header=("key", "", "value"))
    else:
        for item in records:
            print(" ", item)
    return rec
