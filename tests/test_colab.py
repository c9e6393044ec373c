"""course/colab.py: the badge, the first cell, and the Colab install run in a fresh virtual environment.

Colab itself cannot be reached from here. What is simulated: a fresh venv whose site-packages hold
distributions with Colab-like versions of torch, triton and numpy (metadata only), an importable
`google.colab` package or Colab's environment markers, and a stand-in `pip` that records what it was
asked to do. The install logic then runs unchanged, as the first cell runs it on Colab.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course import colab

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "course" / "colab.py"
COLAB_LIKE = {"torch": "2.9.0+cu126", "triton": "3.5.0", "numpy": "2.0.2", "ipykernel": "6.17.1",
              "matplotlib": "3.10.0"}
# Records its arguments and the constraints file it was given, then succeeds: nothing is installed.
FAKE_PIP = """import json, os, sys
args = sys.argv[1:]
c = args[args.index("-c") + 1] if "-c" in args else None
with open(os.environ["PIP_LOG"], "a") as f:
    f.write(json.dumps({"args": args, "constraints": open(c).read() if c else None}) + "\\n")
"""


def _venv(tmp_path, dists, google_colab=True, pip=False):
    v = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(v)], check=True)
    site = next((v / "lib").glob("python3*/site-packages"))
    for name, version in dists.items():
        d = site / f"{name}-{version}.dist-info"
        d.mkdir()
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if google_colab:
        (site / "google" / "colab").mkdir(parents=True)
        (site / "google" / "colab" / "__init__.py").write_text("")
    if pip:
        (site / "pip").mkdir()
        (site / "pip" / "__init__.py").write_text("")
        (site / "pip" / "__main__.py").write_text(FAKE_PIP)
    return v / "bin" / "python"


def _run(python, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLAB_", "PYTHON"))}
    env.update(env_extra or {})
    return subprocess.run([str(python), str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def _pins():
    return colab.pins(ROOT / "requirements.txt")


def test_dry_run_in_a_colab_like_venv_keeps_the_runtimes_torch(tmp_path):
    py = _venv(tmp_path, COLAB_LIKE)
    r = _run(py, "install", "--dry-run", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    plan = json.loads(r.stdout)
    installs = [a for cmd in plan["commands"] for a in cmd]
    assert not any(a.split("==")[0] in ("torch", "triton") for a in installs), plan["commands"]
    assert "torch==2.9.0+cu126" in plan["constraints"] and "triton==3.5.0" in plan["constraints"]
    pins = _pins()
    want_missing = {f"{n}=={v}" for n, v in pins.items()
                    if n not in COLAB_LIKE and n not in ("jupyterlab", "nbval", "pytest")}
    assert set(plan["missing"]) == want_missing and want_missing  # tqdm, ipywidgets here
    assert all(cmd[0] == str(py) for cmd in plan["commands"])
    assert plan["commands"][-1][-3:] == ["--no-deps", "-e", str(ROOT)]
    assert any("numpy 2.0.2" in n for n in plan["notes"])
    assert any("triton" in n and pins["triton"] in n for n in plan["notes"])


def test_without_torch_the_plan_installs_the_pinned_torch(tmp_path):
    """The exclusion comes from torch being there, not from a hard-coded name: remove it, and it is installed."""
    py = _venv(tmp_path, {k: v for k, v in COLAB_LIKE.items() if k != "torch"})
    plan = json.loads(_run(py, "install", "--dry-run", "--json").stdout)
    assert f"torch=={_pins()['torch']}" in plan["missing"]


def test_colab_env_markers_alone_are_detected(tmp_path):
    py = _venv(tmp_path, COLAB_LIKE, google_colab=False)
    r = _run(py, "install", "--dry-run", env_extra={"COLAB_RELEASE_TAG": "release-colab-20260101"})
    assert r.returncode == 0 and "would run:" in r.stdout, r.stdout + r.stderr


def test_not_on_colab_nothing_happens(tmp_path):
    py = _venv(tmp_path, COLAB_LIKE, google_colab=False, pip=True)
    log = tmp_path / "pip.log"
    r = _run(py, "install", env_extra={"PIP_LOG": str(log)})
    assert r.returncode == 0 and "Not on Colab" in r.stdout, r.stdout + r.stderr
    assert not log.exists()


def test_install_runs_pip_with_constraints_that_hold_torch(tmp_path):
    """The real (not dry) path, with pip replaced by a recorder: commands, constraints file, then the tier."""
    py = _venv(tmp_path, COLAB_LIKE, pip=True)
    log = tmp_path / "pip.log"
    r = _run(py, "install", env_extra={"PIP_LOG": str(log)})
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 2, calls
    first, second = calls
    assert first["args"][:2] == ["install", "--quiet"]
    assert not any(a.split("==")[0] in ("torch", "triton") for a in first["args"] + second["args"])
    assert "torch==2.9.0+cu126" in first["constraints"].splitlines()
    assert second["args"] == ["install", "--quiet", "--no-deps", "-e", str(ROOT)]
    # no real torch in this venv: the tier report says so in a sentence, not a traceback
    assert "import kernels` fails" in r.stdout and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_tier_message_for_gpus_without_fp8_hardware():
    d = "GPU tier: Tesla T4 (sm_75), torch 2.9.0"
    assert colab.tier_message(d, (9, 0), False) == d
    assert colab.tier_message("CPU tier: ...", None, False) == "CPU tier: ..."
    fallback = colab.tier_message(d, (7, 5), False)
    assert "sm_75" in fallback and "Change runtime type > CPU" in fallback
    assert "software encoder" in colab.tier_message(d, (8, 0), True)


def test_badges_for_every_lesson_and_exercise():
    repo = "https://github.com/someone/fp8-overflow-course"
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "exercises").glob("*.ipynb")):
        rel = nb.relative_to(ROOT).as_posix()
        md = colab.badge(rel, repo)
        assert md == (f"[![Open In Colab]({colab.BADGE_IMAGE})](https://colab.research.google.com/"
                      f"github/someone/fp8-overflow-course/blob/main/{rel})")
    assert "remove-cell" in colab.badge_cell("notebooks/00_environment_doctor.ipynb")["metadata"]["tags"]
    with pytest.raises(ValueError, match="GitHub"):
        colab.colab_url("notebooks/x.ipynb", "https://example.org/a/b")
    with pytest.raises(ValueError, match="notebook"):
        colab.colab_url("README.md")


def test_repository_inside_github_actions():
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/course"}
    assert colab.repository(env) == "https://github.com/org/course"
    assert colab.repository({}) == colab.REPOSITORY


def test_setup_cell_is_valid_python_and_a_no_op_off_colab(tmp_path, monkeypatch):
    cell = colab.setup_cell("exercises/01_silu_mul.ipynb", "https://github.com/someone/course")
    src = "".join(cell["source"])
    ast.parse(src)
    assert '"https://github.com/someone/course.git"' in src
    assert f'os.chdir("{colab.CLONE_DIR}/exercises")' in src
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    path_before = list(sys.path)
    exec(compile(src, "cell", "exec"), {})
    assert Path.cwd() == tmp_path and sys.path == path_before


def test_readme_links_agree_with_the_repository_constant():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lesson = "notebooks/00_environment_doctor.ipynb"
    assert colab.badge(lesson) in readme
    assert colab.binder_url(lesson) in readme
    assert colab.site_url() in readme
    slug = colab.REPOSITORY.removeprefix("https://github.com/")
    for wf in ("ci.yml", "site.yml"):
        assert f"https://github.com/{slug}/actions/workflows/{wf}/badge.svg" in readme
        assert (ROOT / ".github" / "workflows" / wf).exists()


def test_add_cells_to_a_copy_of_a_lesson(tmp_path):
    import nbformat
    rel = "notebooks/06_the_overflow.ipynb"
    nb_path = tmp_path / "06.ipynb"
    before = json.loads((ROOT / rel).read_text())   # the committed lesson has them: take them out
    before["cells"] = [c for c in before["cells"] if c["id"] not in ("colab-badge", "colab-setup")]
    nb_path.write_text(json.dumps(before, indent=1, ensure_ascii=False) + "\n")
    assert colab.add_cells(nb_path, rel) is True
    nb = json.loads(nb_path.read_text())
    nbformat.validate(nbformat.reads(nb_path.read_text(), as_version=4))
    assert nb["cells"][0]["id"] == "colab-badge" and colab.colab_url(rel) in "".join(nb["cells"][0]["source"])
    first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    assert nb["cells"][first_code]["id"] == "colab-setup"
    assert [c for c in nb["cells"] if c["id"] not in ("colab-badge", "colab-setup")] == before["cells"]
    text = nb_path.read_text()
    assert colab.add_cells(nb_path, rel) is False and nb_path.read_text() == text


@pytest.mark.parametrize("exit_code", [0, 1])
def test_setup_cell_on_colab_runs_the_install_and_moves_into_the_clone(tmp_path, monkeypatch, capsys, exit_code):
    """The cell's Colab branch, with the clone already there and its install step replaced by a stub."""
    clone = tmp_path / "clone"
    (clone / "course").mkdir(parents=True)
    (clone / "notebooks").mkdir()
    (clone / "course" / "colab.py").write_text(
        f"import sys\nprint('stub install ran with', sys.argv[1:])\nsys.exit({exit_code})\n")
    cell = colab.setup_cell("notebooks/06_the_overflow.ipynb", clone_dir=str(clone))
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code = compile("".join(cell["source"]), "cell", "exec")
    if exit_code:
        with pytest.raises(SystemExit, match="not set up"):
            exec(code, {})
        assert Path.cwd() == tmp_path
    else:
        exec(code, {})
        assert Path.cwd() == clone / "notebooks" and sys.path[0] == str(clone)
    assert "stub install ran with ['install']" in capsys.readouterr().out


@pytest.mark.parametrize("rel", sorted(p.relative_to(ROOT).as_posix() for folder in ("notebooks", "exercises")
                                      for p in (ROOT / folder).glob("*.ipynb")))
def test_every_lesson_and_exercise_opens_in_colab(rel):
    """The badge first and the current setup cell before the first code cell, naming the notebook's
    own path (course/colab.py add-cells for lessons; the generator for exercises)."""
    nb = json.loads((ROOT / rel).read_text())
    assert nb["cells"][0]["id"] == "colab-badge" and colab.colab_url(rel) in "".join(nb["cells"][0]["source"])
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert first_code["id"] == "colab-setup"
    assert "".join(first_code["source"]) == "".join(colab.setup_cell(rel)["source"])
