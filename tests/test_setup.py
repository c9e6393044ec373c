"""The setup promises of the README: two commands, CI runs the test command, conda == pip pins."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    return sorted(ln.strip().lstrip("- ").strip() for ln in lines
                  if re.match(r"^\s*-?\s*[A-Za-z0-9_.-]+==", ln))


def test_environment_yml_matches_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    yml = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, ln in enumerate(yml) if ln.strip() == "- pip:")
    conda = _pins(yml[start + 1:])
    assert req, "requirements.txt lists no pinned packages"
    assert conda == req, f"environment.yml pip pins {conda} != requirements.txt {req}"


def test_requirements_pin_what_the_cpu_tier_needs():
    names = {p.split("==")[0] for p in _pins((ROOT / "requirements.txt").read_text().splitlines())}
    # numpy is not pulled in by the CPU torch wheel or triton, yet the interpreter needs it
    for need in ("torch", "triton", "numpy", "jupyterlab", "ipywidgets", "matplotlib", "nbval"):
        assert need in names, f"{need} is missing from requirements.txt"
    from kernels.interp import VERIFIED_TRITON
    triton_pin = next(p for p in _pins((ROOT / "requirements.txt").read_text().splitlines())
                      if p.startswith("triton=="))
    assert triton_pin.split("==")[1] in VERIFIED_TRITON, "the interpreter correction is pinned elsewhere"


def test_readme_leads_with_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    cmds = [ln.split("#")[0].strip() for ln in block.splitlines() if ln.strip()]
    assert cmds == ["make lab", "make test"], cmds
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's test command"
    mk = (ROOT / "Makefile").read_text()
    for target in ("lab:", "test:"):
        assert re.search(rf"^{target} \$\(STAMP\)", mk, re.M), f"make {target} must set up .venv first"
    assert "-r requirements.txt" in mk


def _recipe(target: str) -> str:
    mk = (ROOT / "Makefile").read_text()
    return mk[mk.index(f"\n{target}:"):].split("\n\n")[0]


def test_lab_opens_the_repository_with_the_doctor_first():
    lab = _recipe("lab")
    assert "--ServerApp.root_dir=." in lab, "JupyterLab must be rooted at the repository (exercises/, results/)"
    assert "default_url=/lab/tree/notebooks/00_environment_doctor.ipynb" in lab


def test_lint_runs_before_the_test_command_in_ci_and_tools_are_pinned():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci.index("make lint") < ci.index("make test")
    lint = _recipe("lint")
    assert "ruff check" in lint and "nb check" in lint and "generate --check" in lint
    names = {p.split("==")[0] for p in _pins((ROOT / "requirements.txt").read_text().splitlines())}
    assert {"ruff", "pre-commit"} <= names
    assert "[tool.ruff" in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / ".pre-commit-config.yaml").exists()


def test_setup_leaves_nothing_untracked_and_clean_removes_build_artefacts():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "*.egg-info/" in ignored and ".venv/" in ignored
    clean = _recipe("clean")
    for what in ("$(VENV)", "*.egg-info", "build", "__pycache__"):
        assert what in clean, f"make clean must remove {what}"
