"""The GitHub workflows: actionlint passes (and fails on a broken one), and each does its one job.

Run by `make test-site` (actionlint comes with requirements.txt; `make lint` runs it too); see check_browser.py.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WF = ROOT / ".github" / "workflows"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent))


def _actionlint(*files):
    if not ACTIONLINT:
        pytest.fail("actionlint is not installed: `make setup` installs requirements.txt")
    return subprocess.run([ACTIONLINT, "-no-color", "-config-file", str(ROOT / ".github" / "actionlint.yaml"),
                           *map(str, files)], capture_output=True, text=True, cwd=ROOT)


def _steps(name):
    wf = yaml.safe_load((WF / name).read_text())
    return wf, [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_actionlint_passes_on_every_workflow():
    files = sorted(WF.glob("*.yml"))
    assert {f.name for f in files} >= {"ci.yml", "site.yml", "gpu.yml"}
    r = _actionlint(*files)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: [self-hosted, tpu]\n    steps:\n"
                   "      - run: echo ${{ github.nope }}\n")
    r = _actionlint(bad)
    assert r.returncode != 0
    assert "tpu" in r.stdout and "nope" in r.stdout, r.stdout


def test_ci_runs_exactly_the_readme_test_command_with_pip_caching():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    test_cmd = [ln.split("#")[0].strip() for ln in block.splitlines() if ln.strip()][-1]
    wf, steps = _steps("ci.yml")
    runs = [s["run"].strip() for s in steps if "run" in s]
    assert runs == [test_cmd], runs
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["python-version"] == "3.11"
    assert all("self-hosted" not in str(j["runs-on"]) for j in wf["jobs"].values())


def test_site_workflow_checks_then_publishes_build_site():
    wf, steps = _steps("site.yml")
    runs = [s["run"].strip() for s in steps if "run" in s]
    assert runs == ["make test-site"], runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "build/site"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}


def test_gpu_workflow_runs_make_test_gpu_on_a_self_hosted_gpu_runner():
    wf, steps = _steps("gpu.yml")
    job = wf["jobs"]["test-gpu"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert steps[-1]["run"].startswith("make test-gpu")
