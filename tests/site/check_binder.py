"""Binder's configuration (binder/), checked without Binder (which cannot be reached from here).

What runs: pip resolves binder/requirements.txt exactly as repo2docker gives it to pip (a dry run,
nothing installed) and must find the course's pins; binder/postBuild runs for real in a fresh venv
that already has those pins (as Binder's image has after its pip step), installs the course, and
must report the CPU tier from outside the repository. Run by `make test-site`.
"""
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from course.colab import pins  # noqa: E402


def test_binder_requirements_resolve_to_the_course_pins(tmp_path):
    report = tmp_path / "report.json"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                        "--ignore-installed", "--quiet", "--report", str(report),
                        "-r", str(ROOT / "binder" / "requirements.txt")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"].split("+")[0]
           for i in json.loads(report.read_text())["install"]}
    assert got == pins(ROOT / "requirements.txt")


def test_binder_runs_python_3_11():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_postbuild_installs_the_course_and_reports_the_cpu_tier(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # the pins, as Binder's pip step leaves them: this environment's packages, seen through a .pth
    (site / "pins.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    r = subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "CPU tier: Triton interpreter (GPU rounding on)" in r.stdout, r.stdout
    assert list(site.glob("fp8_overflow_course-*.dist-info")), "postBuild did not install the course"
