"""The lesson kit: what every lesson notebook uses, one way each.

- :func:`setup` — the one call at the top of every lesson and exercise notebook.
- :func:`verdict` — one ✅/❌ line for a bool or a ``kernels.compare`` report.
- :func:`explorer` — widget controls under a static default (what a headless run stores).
- :func:`recorded` / :func:`show` — a recorded GPU run from ``results/gpu/<device>/``, with its banner.
- :func:`show_source` — lines of a function or ``@triton.jit`` kernel between two markers, with a
  clear error when a marker no longer matches the source.
- :func:`plural`, :func:`print_table`, :func:`randn`, :func:`needs_gpu`.

Topic modules (``course.doctor``, ``tiles``, ``silu``, ``fp8``, ``scales``, ``ue8m0``, ``overflow``,
``ir``, ``perf``) hold the pictures and arithmetic of one subject each and build on this kit.
"""
from __future__ import annotations

import inspect
import json

from kernels import tier  # first: it sets TRITON_INTERPRET before triton is imported anywhere

import torch  # noqa: E402  (after kernels.tier, on purpose)

from . import recorded as _recorded  # noqa: E402

MARK = {True: "✅", False: "❌"}
ON_GPU: bool = not tier.INTERPRETED
DEV: str = tier.DEVICE


def setup(seed: int = 0) -> str:
    """Prepare a notebook: the tier is chosen (``import kernels``), plots render inline, torch's
    global generator is seeded. Returns the device the kernels' tensors live on ("cpu" or "cuda")."""
    import kernels  # noqa: F401  (chooses the tier, installs the interpreter's GPU rounding)
    torch.manual_seed(seed)
    try:
        ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821 -- defined inside IPython
    except NameError:
        ip = None
    if ip is not None:
        ip.run_line_magic("matplotlib", "inline")
    return DEV


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 rank", "2 ranks", "1,024 warps": a count with its noun in the right number."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


class Verdict:
    """What :func:`verdict` returns: true or false like the outcome, and silent as a cell's last
    value (its ✅/❌ line is printed already; a bare `True` under it would say nothing more)."""

    __slots__ = ("ok",)

    def __init__(self, ok: bool):
        self.ok = ok

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other) -> bool:
        return self.ok == bool(other)

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return repr(self.ok)

    def _ipython_display_(self) -> None:
        """Nothing: the verdict line is the display."""


def verdict(label: str, outcome) -> Verdict:
    """Print one ✅/❌ line for `outcome` (a bool, or a kernels.compare Report) and return it.

    The line does not depend on the tier, so a stored ✅ that turns into ❌ fails nbval."""
    ok = bool(outcome)
    if isinstance(outcome, (bool, int)) or not hasattr(outcome, "codes"):
        print(f"{MARK[ok]} {label}")
    elif ok:
        print(f"{MARK[ok]} {label}: matches its PyTorch reference ({outcome.codes:,} fp8 codes, "
              f"{outcome.scales:,} scales checked)")
    else:
        print(f"{MARK[ok]} {label}: {outcome}")
    return Verdict(ok)


def randn(m: int, n: int, seed: int = 0, scale: float = 1.0, dtype=torch.bfloat16) -> torch.Tensor:
    """Seeded N(0, scale^2) input made on the CPU (same values on every tier), moved to the tier."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(m, n, generator=gen) * scale).to(dtype).to(DEV)


def needs_gpu(what: str) -> None:
    print(f"needs a GPU — showing a recorded run instead ({what}).")
    print(f"this machine: {tier.describe()}")


# ----------------------------------------------------------------------------------------- source
def source_lines(obj, start: str | None = None, stop: str | None = None,
                 include_stop: bool = False) -> tuple[list[str], int]:
    """(lines, first line number) of obj's source from the first line containing `start` up to the
    first later line containing `stop` (that line too with include_stop=True). Works for
    @triton.jit kernels too."""
    lines, first = inspect.getsourcelines(getattr(obj, "fn", obj))
    name = getattr(getattr(obj, "fn", obj), "__qualname__", repr(obj))

    def find(marker: str, after: int) -> int:
        for k in range(after, len(lines)):
            if marker in lines[k]:
                return k
        raise ValueError(f"{marker!r} no longer appears in the source of {name} (after line "
                         f"{first + after}): the code changed; update the lesson's marker")

    i = 0 if start is None else find(start, 0)
    j = len(lines) if stop is None else find(stop, i + 1) + include_stop
    return lines[i:j], first + i


def show_source(obj, start: str | None = None, stop: str | None = None, numbers: bool = True,
                include_stop: bool = False) -> None:
    """Print obj's source between two markers (see :func:`source_lines`), with its file's line
    numbers unless numbers=False."""
    lines, first = source_lines(obj, start, stop, include_stop)
    for k, line in enumerate(lines):
        print(f"{first + k:4d} {line}" if numbers else line, end="")


# ------------------------------------------------------------------------------------------ tables
def print_table(rows, header=("check", "ok", "detail")) -> None:
    w = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for k, r in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            print("  ".join("-" * x for x in w))


# ---------------------------------------------------------------------------------------- explorer
def explorer(draw, *, note: str = "", show_default: bool = True, **controls) -> None:
    """Show ``draw(**defaults)`` now, then ipywidgets controls that redraw below them.

    `controls` maps each argument of `draw` to an ipywidgets control. The default result is an
    ordinary output, so a headless run (nbconvert, nbval, a static viewer) keeps it; show_default=
    False when the cell above already shows that picture. `draw` may print and/or make figures.
    """
    import matplotlib.pyplot as plt

    def render(values) -> None:
        draw(**values)
        plt.show()

    if show_default:
        render({k: w.value for k, w in controls.items()})
    try:
        import ipywidgets as W
        from IPython.display import clear_output, display
    except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
        print("(ipywidgets is not installed: the static result above is all there is)")
        return
    out = W.Output()

    def redraw(_change=None) -> None:
        with out:
            clear_output(wait=True)
            render({k: w.value for k, w in controls.items()})

    for w in controls.values():
        w.observe(redraw, names="value")
    head = W.HTML(f"<b>Explore:</b> {note or 'move a control; the result redraws below it.'}")
    display(_Controls([head, *controls.values(), out], names=list(controls)))


def _controls_class():
    import ipywidgets as W

    class Controls(W.VBox):
        """A VBox whose plain-text form (what a static viewer and nbval see) names the controls
        instead of listing every widget's state."""

        def __init__(self, children, names):
            super().__init__(children)
            self._names = names

        def __repr__(self) -> str:
            return f"[interactive controls: {', '.join(self._names)} (run the notebook to use them)]"

    return Controls


def _Controls(children, names):  # noqa: N802 -- a class, made lazily (ipywidgets is optional)
    return _controls_class()(children, names)


# ---------------------------------------------------------------------------------- recorded runs
def recorded(name: str, device: str | None = None) -> dict | None:
    """A recorded GPU run (results/gpu/<device>/<name>.json) with its banner printed, or None with a
    clear message when it is missing or unreadable. device: a folder of results/gpu/ (default: the
    set the lessons' prose was written against); other devices that recorded the same run are listed
    beside it, with the call that shows theirs."""
    device = device or _recorded.DEFAULT_DEVICE
    try:
        rec = _recorded.load(name, device)
    except FileNotFoundError:
        print(f"no recorded GPU run yet: results/gpu/{device}/{name}.json is missing "
              "(it is produced by running the course on a real GPU).")
        return None
    except (json.JSONDecodeError, OSError) as e:
        print(f"recorded GPU run {name!r} could not be read: {e}")
        return None
    try:
        print(_recorded.banner(rec))
    except (KeyError, TypeError):
        print(f"[recorded GPU run] {name} (no device/date header in the file)")
    if rec.get("command"):
        print(f"command: {rec['command']}")
    for dev, other in _recorded.load_all(name).items():
        if dev != device:
            print(f"also recorded on {other.get('device', dev)}, {other.get('date', '?')}: "
                  f"kit.recorded({name!r}, device={dev!r})")
    return rec


def repro_line(r: dict) -> str:
    """One verdict dict of kernels.repro.run as one readable line (tolerates missing fields)."""
    try:
        from kernels.repro import one_line
        return one_line({"exit": "?", "wall_s": "?", **r})
    except (KeyError, TypeError, ValueError):
        return json.dumps(r)


def show(value, indent: int = 0, width: int = 110, drop: tuple = ()) -> None:
    """Print a recorded value of unknown shape readably (dicts as key: value, lists line by line).

    Verdict dicts of kernels.repro print as one line each; text lines containing any of `drop` are
    left out (e.g. compute-sanitizer's host backtrace).
    """
    pad = " " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and len(json.dumps(v)) > width - indent - len(str(k)):
                print(f"{pad}{k}:")
                show(v, indent + 2, width, drop)
            else:
                print(f"{pad}{k}: {v if isinstance(v, str) else json.dumps(v)}")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict) and {"kernel", "M", "N", "index", "verdict"} <= set(v):
                print(pad + repro_line(v))
            elif isinstance(v, (dict, list)):
                show(v, indent, width, drop)
                print(pad + "-")
            elif not any(d in str(v) for d in drop):
                print(f"{pad}{v}")
    else:
        for line in str(value).splitlines():
            if not any(d in line for d in drop):
                print(pad + line)


def pick(records, *words):
    """The entries of a recorded dict whose key contains one of `words` (case-insensitive)."""
    if not isinstance(records, dict):
        return records
    return {k: v for k, v in records.items() if any(w.lower() in str(k).lower() for w in words)}
