"""Helpers for lessons 00-04: pictures, widget explorers, small checks and the environment doctor.

The notebooks keep their cells short by calling these. Nothing here is a kernel of the course (those
live in ``kernels/``); the only Triton code is the doctor's two canary kernels, which the notebook
shows with ``inspect.getsource``.

Widget explorers draw the default picture first, then show the controls; moving a control redraws
below them. Without a widget frontend (nbconvert, nbval, a static viewer) the default picture is
what remains, so a headless run has a deterministic output.
"""
from __future__ import annotations

import inspect
import platform

from kernels import tier  # first: it sets TRITON_INTERPRET before triton.language is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from kernels.reference import FP8, FP8_MAX, GROUP, round_up  # noqa: E402

MARK = {True: "✅", False: "❌"}


# ----------------------------------------------------------------------------------------- common
def compare_rule() -> str:
    """The rule kernels.compare.compare applies on this tier: "cpu" (identical) or "gpu"."""
    return "cpu" if tier.INTERPRETED else "gpu"


def check(ok, label: str) -> None:
    """Print one ✅/❌ line. The line itself is tier-independent, so nbval can compare it (a ❌
    where the stored output has ✅ fails the notebook check)."""
    print(f"{MARK[bool(ok)]} {label}")


def randn(m: int, n: int, seed: int = 0, scale: float = 1.0, dtype=torch.bfloat16) -> torch.Tensor:
    """Seeded N(0, scale^2) input made on the CPU (same values on every tier), moved to the tier."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=gen) * scale
    return x.to(dtype).to(tier.DEVICE)


def show_source(obj, start: str | None = None, stop: str | None = None, numbers: bool = True) -> None:
    """Print obj's source (with its file's line numbers unless numbers=False), from the first line
    containing `start` up to (not including) the first later line containing `stop`. Works for
    @triton.jit kernels too."""
    lines, first = inspect.getsourcelines(getattr(obj, "fn", obj))

    def find(marker, after):
        for k in range(after, len(lines)):
            if marker in lines[k]:
                return k
        raise ValueError(f"{marker!r} no longer appears in the source of {obj!r}: update the lesson")

    i = 0 if start is None else find(start, 0)
    j = len(lines) if stop is None else find(stop, i + 1)
    for k in range(i, j):
        print(f"{first + k:4d} {lines[k]}" if numbers else lines[k], end="")


def explorer(draw, controls: dict, note: str = "") -> None:
    """Draw the default picture, then show ipywidgets controls that redraw below them.

    controls: name -> (kind, default, options) with kind "int" (options = (min, max, step)),
    "log" (options = (min_exp, max_exp), base 10) or "choice" (options = list of values).
    draw(**values) must create a figure (plt.show() is called here).
    """
    defaults = {k: spec[1] for k, spec in controls.items()}
    draw(**defaults)
    plt.show()
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        print("(ipywidgets is not installed: the default picture above is all there is)")
        return
    made = {}
    for name, (kind, default, opts) in controls.items():
        if kind == "int":
            made[name] = w.IntSlider(value=default, min=opts[0], max=opts[1], step=opts[2],
                                     description=name, continuous_update=False)
        elif kind == "log":
            made[name] = w.FloatLogSlider(value=default, base=10, min=opts[0], max=opts[1],
                                          description=name, continuous_update=False)
        else:
            made[name] = w.Dropdown(value=default, options=list(opts), description=name)
    out = w.Output()

    def redraw(_change) -> None:
        with out:
            out.clear_output(wait=True)
            draw(**{k: c.value for k, c in made.items()})
            plt.show()

    for c in made.values():
        c.observe(redraw, names="value")
    if note:
        print(note)
    display(w.VBox([w.HBox(list(made.values())), out]))


# ------------------------------------------------------------------------- lesson 00: the doctor
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
def canary_fp8_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x.to(tl.float8e4nv), mask=mask)


def canary_add(n: int = 1000) -> tuple[int, int]:
    """x + y with a known answer (x = i, y = 2i -> 3i, exact in fp32). Returns (correct, n)."""
    i = torch.arange(n, dtype=torch.float32, device=tier.DEVICE)
    out = torch.full_like(i, -1.0)
    canary_add_kernel[(triton.cdiv(n, 256),)](i, 2 * i, out, n, BLOCK=256)
    return int((out == 3 * i).sum()), n


FP8_TIE = 1.0625   # exactly halfway between the e4m3 values 1.0 and 1.125: round to even gives 1.0


def canary_fp8_tie(value: float = FP8_TIE) -> tuple[float | None, float]:
    """(what a Triton kernel's fp32 -> fp8 e4m3 cast gives, what torch gives) for one value.

    The kernel's result is None (and the reason is printed) if it cannot run, e.g. on a GPU older
    than sm_89, where Triton refuses the fp8 e4m3 type.
    """
    x = torch.tensor([value], dtype=torch.float32, device=tier.DEVICE)
    out = torch.empty(1, dtype=FP8, device=tier.DEVICE)
    want = x.cpu().to(FP8).float().item()
    try:
        canary_fp8_kernel[(1,)](x, out, 1, BLOCK=2)
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
        rows.append(("FP8 e4m3 in hardware (sm_89+)", MARK[gpu["fp8_e4m3"]], gpu["capability"]))
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
    if r["gpu"]["fp8_e4m3"] and r["demo_fits"]:
        return "GPU tier: every lesson runs here, including the full-size reproduction."
    return ("GPU tier, partial: the small lessons run on this GPU; the full-size demo needs an "
            "sm_89+ GPU with enough free memory (see the rows above).")


def print_table(rows, header=("check", "ok", "detail")) -> None:
    w = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for k, r in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            print("  ".join("-" * x for x in w))


def show_recorded(name: str) -> dict | None:
    """Print a recorded GPU run (course.recorded) or say that none exists yet."""
    from course import recorded
    try:
        rec = recorded.load(name)
    except FileNotFoundError:
        print(f"no recorded GPU run yet (results/gpu/{name}.json is missing)")
        return None
    print(recorded.banner(rec))
    print(f"command: {rec['command']}")
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
        print_table(rows)
    elif isinstance(records, dict):
        print_table([(k, "", v) for k, v in records.items()], header=("key", "", "value"))
    else:
        for item in records:
            print(" ", item)
    return rec


# -------------------------------------------------------------------- lesson 01: grid and tiles
def owner_map(m: int, n: int, block_m: int, block_n: int) -> np.ndarray:
    """For every element of an [m, n] matrix, the linear id pid_m * grid_n + pid_n of its program."""
    grid_n = -(-n // block_n)
    rows = np.arange(m)[:, None] // block_m
    cols = np.arange(n)[None, :] // block_n
    return rows * grid_n + cols


def plot_tiles(m: int, n: int, block_m: int, block_n: int, owners=None, title: str | None = None):
    """The [m, n] matrix coloured by the program that owns each element; the dashed part of an
    edge tile lies outside the matrix (those lanes are masked off)."""
    from matplotlib.patches import Rectangle
    owners = owner_map(m, n, block_m, block_n) if owners is None else np.asarray(owners)
    gm, gn = -(-m // block_m), -(-n // block_n)
    fig, ax = plt.subplots(figsize=(7, 7 * min(max(m / n, 0.3), 1.5)))
    cmap = plt.get_cmap("tab20")
    ax.imshow(owners % 20, cmap=cmap, vmin=0, vmax=19, interpolation="nearest",
              extent=(0, n, m, 0))
    for pm in range(gm):
        for pn in range(gn):
            r0, c0 = pm * block_m, pn * block_n
            ax.add_patch(Rectangle((c0, r0), block_n, block_m, fill=False, lw=1.2, ls="--",
                                   ec="0.3", clip_on=False))
            if gm * gn <= 48:
                ax.text(c0 + min(block_n, n - c0) / 2, r0 + min(block_m, m - r0) / 2,
                        f"({pm},{pn})", ha="center", va="center", fontsize=8)
    hatch = dict(fill=False, hatch="//", ec="0.6", lw=0)
    if gm * block_m > m:
        ax.add_patch(Rectangle((0, m), gn * block_n, gm * block_m - m, **hatch, label="masked lanes"))
    if gn * block_n > n:
        ax.add_patch(Rectangle((n, 0), gn * block_n - n, m, **hatch,
                               label=None if gm * block_m > m else "masked lanes"))
    ax.add_patch(Rectangle((0, 0), n, m, fill=False, lw=2.5, ec="k"))
    ax.set_xlim(-0.5, gn * block_n + 0.5)
    ax.set_ylim(gm * block_m + 0.5, -0.5)
    ax.set_xlabel(f"column (N = {n})")
    ax.set_ylabel(f"row (M = {m})")
    ax.set_title(title or f"BLOCK_M = {block_m}, BLOCK_N = {block_n}: grid = ({gm}, {gn}) = "
                          f"{gm * gn} programs, labels (pid_m, pid_n)", fontsize=10)
    fig.tight_layout()
    return fig


def tile_explorer(m: int = 20, n: int = 44, block_m: int = 8, block_n: int = 16) -> None:
    def draw(M, N, BLOCK_M, BLOCK_N):
        plot_tiles(M, N, BLOCK_M, BLOCK_N)
    explorer(draw, {"M": ("int", m, (1, 64, 1)), "N": ("int", n, (1, 128, 1)),
                    "BLOCK_M": ("choice", block_m, (1, 2, 4, 8, 16, 32)),
                    "BLOCK_N": ("choice", block_n, (4, 8, 16, 32, 64))},
             note="Move a control: the picture for your choice appears below the controls.")


# --------------------------------------------------------------------- lesson 02: gate and up
def plot_gate_up(x: torch.Tensor):
    """Heat map of an [M, N] input with the gate | up split and one output column's two inputs."""
    x = x.float().cpu()
    m, n = x.shape
    h = n // 2
    fig, ax = plt.subplots(figsize=(9, 3.2))
    im = ax.imshow(x.numpy(), aspect="auto", cmap="coolwarm", vmin=-3, vmax=3,
                   extent=(0, n, m, 0), interpolation="nearest")
    ax.axvline(h, color="k", lw=3)
    for x0, label in ((h / 2, "gate = x[:, :N/2]\nsilu() applies here"),
                      (1.5 * h, "up = x[:, N/2:]\nmultiplies silu(gate)")):
        ax.text(x0, m * 0.5, label, ha="center", va="center", fontsize=11,
                bbox=dict(facecolor="white", alpha=0.85))
    j = h // 4
    band = max(1.0, n / 128)
    for c, name in ((j, "gate"), (j + h, "up")):
        ax.add_patch(plt.Rectangle((c, 0), band, m, color="limegreen"))
        ax.annotate(f"{name}: column {c}", (c, 0), (c + n * 0.02, -m * 0.08), fontsize=8,
                    annotation_clip=False)
    ax.set_xlabel(f"input column (N = {n}); output column j = {j} reads columns {j} and {j + h}")
    ax.set_ylabel(f"row (M = {m})")
    fig.colorbar(im, ax=ax, label="x")
    fig.tight_layout()
    return fig


def bf16_steps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance between bf16 values in representable steps (0 = identical, 1 = neighbours)."""
    def ordinal(t):
        i = t.to(torch.bfloat16).cpu().view(torch.int16).to(torch.int32)
        return torch.where(i < 0, -(i & 0x7FFF), i)
    return (ordinal(a) - ordinal(b)).abs()


def compare_bf16(y: torch.Tensor, reference) -> tuple[bool, str]:
    """Compare a kernel's bf16 result with reference(exp_slack) (a function of kernels.reference's
    exp_slack). CPU tier: identical to reference(0). GPU tier: each element equal to the reference
    evaluated with exp at one end of the GPU's error bound or the other (-1, 0, +1): the same
    envelope rule as kernels.compare.check, no rate."""
    y_ref = reference(0)
    if y.shape != y_ref.shape:
        return False, f"shape {tuple(y.shape)}, expected {tuple(y_ref.shape)}"
    y, y_ref = y.cpu(), y_ref.cpu()
    steps = bf16_steps(y, y_ref)
    diff, worst = int((steps > 0).sum()), int(steps.max()) if steps.numel() else 0
    msg = f"{diff:,} of {steps.numel():,} elements differ (max {worst} bf16 steps)"
    if tier.INTERPRETED:
        return diff == 0, msg + " [CPU tier rule: identical]"
    inside = torch.zeros_like(steps, dtype=torch.bool)
    for slack in (-1, 0, 1):
        inside |= y.view(torch.int16) == reference(slack).cpu().to(y.dtype).view(torch.int16)
    return bool(inside.all()), msg + f" [GPU rule: {int((~inside).sum()):,} outside the exp envelope]"


# -------------------------------------------------------------------------- lesson 03: fp8 e4m3
from kernels.reference import e4m3_value  # noqa: E402,F401  (lesson 03 shows its source)


def plot_e4m3_grid():
    """Every positive finite e4m3 value on a log axis, and the gap to the next value."""
    codes = torch.arange(1, 127, dtype=torch.uint8)
    v = codes.view(FP8).float().numpy()
    gaps = np.diff(v)
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    sub = v < 2.0**-6
    a0.semilogx(v[~sub], codes[~sub].numpy(), ".", label="normal")
    a0.semilogx(v[sub], codes[sub].numpy(), ".", color="tab:orange", label="subnormal")
    a0.set_ylabel("code (byte)")
    a0.set_title("fp8 e4m3fn: the 126 positive finite values (codes 1..126)")
    a0.axvline(448, color="k", ls=":")
    a0.text(448, 10, " 448 = max", ha="right")
    a0.legend(loc="upper left")
    a1.loglog(v[:-1], gaps, ".-", lw=0.6)
    a1.loglog(v[:-1], gaps / v[:-1], ".-", lw=0.6, color="tab:red")
    a1.set_xlabel("value")
    a1.set_ylabel("gap to next value")
    a1.legend(["absolute gap", "relative gap (gap / value)"], loc="upper left")
    a1.axvspan(v[0], 2.0**-6, color="tab:orange", alpha=0.15)
    fig.tight_layout()
    return fig


OUTLIER_COLS = (37, 600)   # two outlier channels (real LLM activations have a handful)
LOUD_ROWS = (5, 40)        # two loud tokens


def outlier_activation(m: int = 64, n: int = 1024, outlier: float = 1000.0, seed: int = 0):
    """N(0, 1) activations [m, n] (fp32, CPU): columns OUTLIER_COLS scaled by `outlier`, rows
    LOUD_ROWS by sqrt(outlier)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(m, n, generator=gen)
    y[:, list(OUTLIER_COLS)] *= outlier
    y[list(LOUD_ROWS)] *= outlier ** 0.5
    return y


def quantize_blocks(y: torch.Tensor, block_rows: int, block_cols: int):
    """fp8 quantization with one scale per [block_rows, block_cols] block (scale = amax / 448).

    Returns (dequantized y, q). block = (M, N): per tensor; (1, N): per token; (1, 128): per
    token-group, the kernels' scheme.
    """
    m, n = y.shape
    b = y.reshape(m // block_rows, block_rows, n // block_cols, block_cols)
    amax = b.abs().amax(dim=(1, 3), keepdim=True).clamp_min(1e-10)
    scale = amax / FP8_MAX
    q = (b / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8)
    return (q.float() * scale).reshape(m, n), q.reshape(m, n)


SCHEMES = {"per tensor": lambda m, n: (m, n), "per token (row)": lambda m, n: (1, n),
           "per token-group (1 x 128)": lambda m, n: (1, GROUP)}


def quant_errors(y: torch.Tensor) -> dict[str, dict]:
    """Per scheme, measured on the ordinary elements (all but the outlier columns, whose own error
    is always small because they set the scale): the relative error of each row
    |deq - y| / |y|, and the fraction of ordinary elements quantized to 0."""
    keep = torch.ones(y.shape[1], dtype=torch.bool)
    keep[list(OUTLIER_COLS)] = False
    out = {}
    for name, blocks in SCHEMES.items():
        deq, q = quantize_blocks(y, *blocks(*y.shape))
        rel_rows = (deq - y)[:, keep].norm(dim=1) / y[:, keep].norm(dim=1)
        flushed = float((q.float()[:, keep] == 0).float().mean())
        out[name] = {"rel_rows": rel_rows, "flushed": flushed, "rel": float(rel_rows.median())}
    return out


def plot_quant_error(outlier: float = 1000.0, m: int = 64, n: int = 1024, seed: int = 0):
    y = outlier_activation(m, n, outlier, seed)
    errs = quant_errors(y)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})
    im = a0.imshow(y.abs().log10().numpy(), aspect="auto", cmap="magma")
    a0.plot(OUTLIER_COLS, [-1.5] * len(OUTLIER_COLS), "v", color="tab:cyan", ms=8, clip_on=False,
            label="outlier channels")
    a0.set_ylim(m - 0.5, -0.5)
    a0.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    a0.set_title(f"log10 |y| (outlier x{outlier:g})")
    a0.set_xlabel("column")
    a0.set_ylabel("row (token)")
    fig.colorbar(im, ax=a0)
    for name, e in errs.items():
        a1.semilogy(e["rel_rows"].numpy(), ".-", lw=0.7,
                    label=f"{name}: median {e['rel']:.1e}, zeros {e['flushed']:.1%}")
    a1.set_xlabel("row (token)")
    a1.set_ylabel("|deq - y| / |y| of the row\n(ordinary columns)")
    a1.set_title("fp8 e4m3 quantization error per row")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.tight_layout()
    return fig


def outlier_explorer(outlier: float = 1000.0) -> None:
    explorer(lambda outlier: plot_quant_error(outlier), {"outlier": ("log", outlier, (0, 4))},
             note="Move the slider (outlier magnitude 1 .. 10,000): the redrawn picture appears "
                  "below it.")


# ----------------------------------------------------------------- lesson 04: the scale layout
def scale_memory_order(m: int, g: int, layout: str) -> np.ndarray:
    """Memory position of each (row, group) of an [m, g] fp32 scale matrix, padding rows included
    (as -1 rows after m for "mn-major"). layout: "row-major" or "mn-major" (stride (1, round_up(m,4)))."""
    if layout == "row-major":
        return np.arange(m * g).reshape(m, g)
    a = round_up(m, 4)
    pos = np.arange(g)[None, :] * a + np.arange(a)[:, None]
    return pos


def plot_scale_layouts(m: int = 6, g: int = 3):
    """Two pictures of one [M, G] scale matrix: the number in a cell is its position in memory."""
    a = round_up(m, 4)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.55 * a + 1.6))
    for ax, layout in zip(axes, ("row-major", "mn-major")):
        pos = scale_memory_order(m, g, layout)
        rows = pos.shape[0]
        color = np.where(np.arange(rows)[:, None] < m, np.arange(g)[None, :] % 10, np.nan)
        ax.imshow(np.broadcast_to(color, pos.shape), cmap="Pastel1", vmin=0, vmax=9,
                  aspect="auto", extent=(0, g, rows, 0))
        for r in range(rows):
            for c in range(g):
                pad = r >= m
                ax.text(c + 0.5, r + 0.5, f"{pos[r, c]}" + (" pad" if pad else ""), ha="center",
                        va="center", fontsize=9, color="0.55" if pad else "k")
        if rows > m:
            ax.axhline(m, color="k", lw=2)
        ax.set_xticks(np.arange(g) + 0.5, [f"group {c}" for c in range(g)])
        ax.set_yticks(np.arange(rows) + 0.5, [f"row {r}" if r < m else "(pad)" for r in range(rows)])
        strides = (g, 1) if layout == "row-major" else (1, a)
        ax.set_title(f"{layout}: strides {strides}" +
                     (f"\n{a - m} padding rows per column (M = {m} -> {a})" if rows > m else "\n"),
                     fontsize=10)
    fig.suptitle(f"[M = {m}, G = {g}] scales: the number is the element's position in memory",
                 fontsize=11)
    fig.tight_layout()
    return fig

