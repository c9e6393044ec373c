"""Running the course on Google Colab: the "Open in Colab" badge and the first cell's install.

Standard library only: on Colab, a notebook's first cell clones the repository and runs this file as
a script (``python course/colab.py install``) *before* the course is installed.

What the install does on Colab (and nothing anywhere else):
- keeps every package the runtime already has, torch and triton included, at the runtime's version:
  Colab's torch is built for Colab's CUDA, and replacing it would break the runtime;
- installs the course's pinned packages the runtime lacks, with a constraints file that holds every
  package the runtime has at its version (so no dependency resolution can replace torch either);
- skips what only a desktop setup or the test suite needs (Colab brings its own notebook UI);
- installs the course itself with ``--no-deps`` (editable, from the clone);
- reports the tier in a fresh process, and says what a GPU below sm_89 (a T4) can run.

Maintainers: `python course/colab.py add-cells NOTEBOOK...` puts both cells into notebooks (:func:`add_cells`);
:func:`badge` and :func:`badge_cell` give a notebook's badge,
:func:`setup_cell` its first cell; :data:`REPOSITORY` is the one place the repository's address lives.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# The repository the badges and the first cell point at. A placeholder until the course is
# published: set it here, once. A site built by GitHub Actions uses the repository it runs in.
REPOSITORY = "https://github.com/OWNER/fp8-overflow-course"
BRANCH = "main"
CLONE_DIR = "/content/fp8-overflow-course"
COLAB = "https://colab.research.google.com"
BADGE_IMAGE = f"{COLAB}/assets/colab-badge.svg"
BINDER = "https://mybinder.org"

# Pinned in requirements.txt but not installed on Colab: its own notebook front end replaces
# jupyterlab, and nbval/pytest only run the course's test suite (`make test`).
NOT_ON_COLAB = frozenset({"jupyterlab", "nbval", "pytest"})
# Triton's fp8e4nv type (the hardware e4m3 conversion) exists from this compute capability on
# (triton/backends/nvidia/compiler.py, CUDABackend.parse_options, triton 3.6).
FP8_HARDWARE_SM = (8, 9)

ROOT = Path(__file__).resolve().parent.parent


def repository(env=os.environ) -> str:
    """The repository's address; inside GitHub Actions, the repository being built."""
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SERVER_URL"):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}"
    return REPOSITORY


def _github_slug(url: str) -> str:
    m = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", url)
    if not m:
        raise ValueError(f"{url!r} is not a https://github.com/OWNER/NAME address: Colab opens "
                         "notebooks from GitHub only")
    return m.group(1)


def site_url(repo: str | None = None) -> str:
    """Where .github/workflows/site.yml publishes the course site (GitHub Pages of the repository)."""
    owner, name = _github_slug(repo or REPOSITORY).split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def colab_url(path: str, repo: str | None = None, branch: str = BRANCH) -> str:
    """Colab's address for a notebook of the repository, e.g. colab_url("notebooks/06_the_overflow.ipynb")."""
    path = Path(path).as_posix()
    if not path.endswith(".ipynb") or path.startswith(("/", "../")):
        raise ValueError(f"{path!r}: give a notebook's path inside the repository, e.g. "
                         "notebooks/06_the_overflow.ipynb")
    return f"{COLAB}/github/{_github_slug(repo or REPOSITORY)}/blob/{branch}/{path}"


def binder_url(path: str, repo: str | None = None, branch: str = BRANCH) -> str:
    """Binder's address for a notebook, opened in JupyterLab (binder/ configures the image)."""
    colab_url(path, repo, branch)  # the same checks of path and repository
    return f"{BINDER}/v2/gh/{_github_slug(repo or REPOSITORY)}/{branch}?urlpath=lab/tree/{path}"


def badge(path: str, repo: str | None = None) -> str:
    """The Markdown of an "Open in Colab" badge for a notebook of the repository."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(path, repo)})"


def badge_cell(path: str, repo: str | None = None) -> dict:
    """A markdown cell holding the badge. Tagged remove-cell: the course site has its own launch
    buttons, and a static site should not depend on Colab's server for an image."""
    return {"cell_type": "markdown", "id": "colab-badge",
            "metadata": {"tags": ["colab-badge", "remove-cell"]}, "source": [badge(path, repo)]}


def setup_cell(path: str, repo: str | None = None, clone_dir: str = CLONE_DIR) -> dict:
    """The first code cell of a notebook: a no-op except on Colab, where it fetches the course and
    runs `install` below, then works from the clone so `import kernels` finds the course."""
    folder = Path(path).parent.as_posix()
    url = (repo or REPOSITORY) + ".git"
    src = f'''# On Colab only: fetch the course and install it beside Colab's own torch (course/colab.py).
import sys
if "google.colab" in sys.modules:
    import os as _os
    import subprocess as _sp

    def _run(*cmd):  # through Python's stdout, so the notebook shows what a step said
        r = _sp.run(cmd, capture_output=True, text=True)
        print(r.stdout + r.stderr, end="")
        if r.returncode:
            raise SystemExit("The course is not set up: the lines above say why.")
    if not _os.path.isdir("{clone_dir}"):
        _run("git", "clone", "--quiet", "--depth=1", "--branch", "{BRANCH}", "{url}", "{clone_dir}")
    _run(sys.executable, "{clone_dir}/course/colab.py", "install")
    sys.path.insert(0, "{clone_dir}")
    _os.chdir("{clone_dir}/{folder}")'''
    return {"cell_type": "code", "execution_count": None, "id": "colab-setup",
            "metadata": {"tags": ["colab-setup"]}, "outputs": [], "source": src.splitlines(keepends=True)}


def add_cells(notebook: Path, rel: str | None = None, repo: str | None = None) -> bool:
    """Put the badge first and the setup cell before the first code cell of a notebook of this
    repository (written back in the format the course's notebooks use). False if already there.
    rel: the notebook's path in the repository (default: where it lies under this checkout)."""
    notebook = Path(notebook).resolve()
    rel = rel or notebook.relative_to(ROOT).as_posix()
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    tags = {t for c in nb["cells"] for t in c.get("metadata", {}).get("tags", [])}
    if {"colab-badge", "colab-setup"} <= tags:
        return False
    if tags & {"colab-badge", "colab-setup"}:
        raise SystemExit(f"{rel}: has only one of the two Colab cells; remove it and run again")
    first_code = next((i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"), len(nb["cells"]))
    nb["cells"].insert(first_code, setup_cell(rel, repo))
    nb["cells"].insert(0, badge_cell(rel, repo))
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


# ---------------------------------------------------------------------------------------------
# The install itself
# ---------------------------------------------------------------------------------------------
def on_colab(env=os.environ, modules=sys.modules) -> bool:
    """Colab's kernel has google.colab loaded; a process it starts has google.colab importable and
    Colab's environment markers."""
    if "google.colab" in modules or "COLAB_RELEASE_TAG" in env or "COLAB_GPU" in env:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except ModuleNotFoundError:  # no google package at all
        return False


_PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9.]+)?$", re.I)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: Path) -> dict[str, str]:
    """name -> exact version, from the course's requirements.txt (name==version lines)."""
    out = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    if not out:
        raise SystemExit(f"{requirements} pins no package: is this the course's repository?")
    return out


def installed() -> dict[str, str]:
    """Every distribution this Python has, by normalized name."""
    out = {}
    for d in importlib.metadata.distributions():
        name = d.metadata["Name"]
        if name:
            out.setdefault(_norm(name), d.version)
    return out


def plan(root: Path, have: dict[str, str], python: str = sys.executable) -> dict:
    """What `install` runs: nothing the runtime has is replaced; returns commands, constraints, notes."""
    want = pins(root / "requirements.txt")
    missing = [f"{n}=={v}" for n, v in want.items() if n not in have and n not in NOT_ON_COLAB]
    # Hold every package the runtime has at its version: pip may then add, never replace. (A version
    # pip could not parse would void the whole file; such a package is left out of it.)
    constraints = [f"{n}=={v}" for n, v in sorted(have.items()) if _PEP440.match(v)]
    notes = [f"keeping the runtime's {n} {have[n]} (the course pins {v})"
             for n, v in want.items() if n in have and have[n] != v]
    if "triton" in have and have["triton"] != want.get("triton"):
        notes.append(f"the course's GPU tier was tested with triton {want.get('triton')}; the CPU "
                     f"tier's rounding correction needs exactly that version")
    commands = []
    if missing:
        commands.append([python, "-m", "pip", "install", "--quiet", "-c", "{constraints}"] + missing)
    commands.append([python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(root)])
    return {"commands": commands, "constraints": constraints, "missing": missing, "notes": notes}


def tier_message(describe: str, capability: tuple[int, int] | None, software_fp8: bool) -> str:
    """What a learner is told about the tier this runtime gives."""
    if capability is None or capability >= FP8_HARDWARE_SM:
        return describe
    sm = f"sm_{capability[0]}{capability[1]}"
    if software_fp8:
        return f"{describe}\nThis GPU ({sm}) has no fp8 e4m3 conversion; the kernels use the course's software encoder."
    return (f"{describe}\nThis GPU ({sm}) has no fp8 e4m3 conversion, and Triton compiles the course's "
            f"kernels only from sm_89 on, so the GPU cells would fail to compile. Use the CPU tier: "
            f"Runtime > Change runtime type > CPU, then run this cell again. Every lesson runs there; "
            f"the GPU-only demos show what a real H100 recorded.")


def report_tier() -> int:
    """Print the tier (run in a fresh process, after the install)."""
    sys.path.insert(0, str(ROOT))
    try:
        from kernels import tier
    except Exception as e:  # an install that imports nothing must still say why, not trace back
        print(f"The course is installed but `import kernels` fails: {type(e).__name__}: {e}")
        return 1
    cap = None
    if not tier.INTERPRETED:
        import torch
        cap = tuple(torch.cuda.get_device_capability(0))
    software = importlib.util.find_spec("kernels.fp8") is not None
    describe = tier.describe() if hasattr(tier, "describe") else ("CPU tier" if tier.INTERPRETED else "GPU tier")
    print(tier_message(describe, cap, software))
    return 0


def install(root: Path, dry_run: bool, as_json: bool) -> int:
    if not on_colab():
        print("Not on Colab: nothing to install here (locally, `make lab` sets up the course).")
        return 0
    p = plan(root, installed())
    if as_json:
        print(json.dumps(p, indent=1))
    else:
        for note in p["notes"]:
            print("note:", note)
    if dry_run:
        if not as_json:
            for cmd in p["commands"]:
                print("would run:", " ".join(cmd))
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(p["constraints"]) + "\n")
    try:
        for cmd in p["commands"]:
            cmd = [f.name if a == "{constraints}" else a for a in cmd]
            if subprocess.run(cmd).returncode:
                print(f"Install step failed: {' '.join(cmd)}\n(see pip's message above; the runtime's "
                      f"own packages were left as they were)")
                return 1
    finally:
        os.unlink(f.name)
    return subprocess.run([sys.executable, __file__, "tier"]).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="course/colab.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("install", help="on Colab: install the course beside the runtime's own torch")
    i.add_argument("--dry-run", action="store_true", help="print the plan, install nothing")
    i.add_argument("--json", action="store_true", help="print the plan as JSON")
    sub.add_parser("tier", help="print which tier this runtime gives")
    c = sub.add_parser("add-cells", help="put the badge and the setup cell into notebooks")
    c.add_argument("notebooks", nargs="+", type=Path)
    b = sub.add_parser("badge", help="print a notebook's badge Markdown")
    b.add_argument("notebook", help="path inside the repository, e.g. notebooks/06_the_overflow.ipynb")
    a = ap.parse_args(argv)
    if a.cmd == "install":
        return install(ROOT, a.dry_run, a.json)
    if a.cmd == "tier":
        return report_tier()
    if a.cmd == "add-cells":
        for nb in a.notebooks:
            print(f"{nb}: {'badge and setup cell added' if add_cells(nb) else 'already has them'}")
        return 0
    print(badge(a.notebook))
    return 0


if __name__ == "__main__":
    sys.exit(main())
