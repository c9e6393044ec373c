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
