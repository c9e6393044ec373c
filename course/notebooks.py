"""Committed notebooks stay clean: outputs that nbval checks, nothing volatile, within a size budget.

``clean`` keeps every output a reader or nbval needs and drops what changes from run to run without
the content changing: execution timestamps, widget state (random model ids), kernel versions in the
notebook metadata, and the split of one stream into several outputs; execution counts become the
1, 2, 3... of a top-to-bottom run. ``check`` fails
on anything ``clean`` would change, on an image stored twice in one notebook, and on a notebook over
the size budget. ``execute`` re-runs a notebook top to bottom (its own progress file, so a re-run
never touches a learner's) and cleans it: a second run without changes leaves ``git diff`` empty.

    python -m course nb clean   [paths]     make notebooks clean (pre-commit runs this)
    python -m course nb check   [paths]     exit 1 when one is not (make lint runs this)
    python -m course nb execute [paths]     re-execute on this machine's tier, then clean
"""
from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from pathlib import Path

from .root import course_root

BUDGET_BYTES = 250_000            # per committed notebook
KEEP_CELL_METADATA = ("tags", "course", "jupyter")   # authored: nbval tags, exercise ids, hidden source
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
EXECUTE_TIMEOUT_S = 600


def _nbformat():
    import nbformat
    return nbformat


def default_paths(root: Path | None = None) -> list[Path]:
    root = root or course_root()
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "solutions").glob("*.ipynb"))


def _merge_streams(outputs: list) -> list:
    merged = []
    for o in outputs:
        if (o.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == o.get("name")):
            merged[-1]["text"] = merged[-1]["text"] + o["text"]
        else:
            merged.append(o)
    return merged


def clean(nb):
    """A copy of notebook `nb` (an nbformat node) without volatile metadata (see module doc)."""
    nb = copy.deepcopy(nb)
    lang = nb.metadata.get("language_info", {}).get("name", "python")
    nb.metadata = type(nb.metadata)(kernelspec=dict(KERNELSPEC), language_info={"name": lang})
    # An executed notebook is numbered 1, 2, 3... over its code cells, as a top-to-bottom run numbers
    # them (nbval refuses a cell with outputs and no count); a notebook without outputs has none.
    executed = any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    count = 0
    for cell in nb.cells:
        cell.metadata = type(cell.metadata)({k: v for k, v in cell.metadata.items()
                                             if k in KEEP_CELL_METADATA})
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count if executed else None
        outputs = []
        for o in cell.outputs:
            if "data" in o:
                o["data"] = {k: v for k, v in o["data"].items() if k != WIDGET_VIEW}
                if not o["data"]:
                    continue
                o["metadata"] = {}
            if o.get("output_type") == "execute_result":
                o["execution_count"] = cell.execution_count
            outputs.append(o)
        cell.outputs = _merge_streams(outputs)
    return nb


def dumps(nb) -> str:
    return _nbformat().writes(nb) + "\n"


def problems(path: Path) -> list[str]:
    """What makes the committed notebook at `path` not clean (empty when it is)."""
    nbf = _nbformat()
    text = path.read_text()
    nb = nbf.reads(text, as_version=4)
    out = []
    if dumps(clean(nb)) != text:
        out.append("volatile metadata or unmerged streams (run `python -m course nb clean`)")
    seen: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            for mime, data in o.get("data", {}).items():
                if mime.startswith("image/"):
                    h = hashlib.sha256(str(data).encode()).hexdigest()
                    if h in seen:
                        out.append(f"cell {i} stores the same image as cell {seen[h]}")
                    seen.setdefault(h, i)
    size = len(text.encode())
    if size > BUDGET_BYTES:
        out.append(f"{size:,} bytes, over the budget of {BUDGET_BYTES:,}")
    return out


def clean_file(path: Path) -> bool:
    """Clean the notebook at `path` in place; True when it changed."""
    text = path.read_text()
    new = dumps(clean(_nbformat().reads(text, as_version=4)))
    if new != text:
        path.write_text(new)
    return new != text


def execute_file(path: Path, timeout: int = EXECUTE_TIMEOUT_S) -> None:
    """Run the notebook at `path` top to bottom in a fresh kernel, then clean it in place."""
    from nbclient import NotebookClient
    nb = _nbformat().read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("COURSE_PROGRESS_FILE")
        os.environ["COURSE_PROGRESS_FILE"] = str(Path(tmp) / "progress.json")
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        finally:
            if old is None:
                os.environ.pop("COURSE_PROGRESS_FILE", None)
            else:
                os.environ["COURSE_PROGRESS_FILE"] = old
    path.write_text(dumps(clean(nb)))


def main(action: str, paths: list[str]) -> int:
    files = [Path(p) for p in paths] if paths else default_paths()
    status = 0
    for f in files:
        if action == "clean":
            if clean_file(f):
                print(f"cleaned {f}")
        elif action == "execute":
            print(f"executing {f} ...", flush=True)
            execute_file(f)
        else:
            for p in problems(f):
                print(f"{f}: {p}")
                status = 1
    if action == "check" and status == 0:
        print(f"{len(files)} notebooks clean, each within {BUDGET_BYTES:,} bytes")
    return status
