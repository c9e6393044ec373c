"""The build itself (scripts/site_build.py): links to repository files, dangling links, recordings pages.

Run by `make test-site`; see check_browser.py for why the name is check_*.py.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
import site_build as build  # noqa: E402

from course import colab  # noqa: E402


def _with_links(tmp_path, links):
    src = tmp_path / "src"
    build.stage(src)
    with open(src / "exercises" / "README.md", "a", encoding="utf-8") as f:
        f.write("\n\n" + " ".join(links) + "\n")
    return build.sphinx(src, tmp_path / "out"), tmp_path / "out" / "exercises" / "README.html"


def test_links_to_repository_files_open_them_on_github(tmp_path):
    rc, page = _with_links(tmp_path, ["[kernel](../kernels/colmajor.py)", "[readme](../README.md#two-tiers)",
                                      "[lesson](../notebooks/06_the_overflow.ipynb)",
                                      "![benchmark](../results/gpu/h100/bench.png)"])
    assert rc == 0
    html = page.read_text(encoding="utf-8")
    pic = next((tmp_path / "out" / "_images").glob("bench*.png"))  # a picture shown by relative path
    assert pic.read_bytes() == (ROOT / "results" / "gpu" / "h100" / "bench.png").read_bytes()
    assert f'src="../_images/{pic.name}"' in html
    repo = colab.repository()
    assert f'href="{repo}/blob/main/kernels/colmajor.py"' in html
    assert f'href="{repo}/blob/main/README.md#two-tiers"' in html
    assert 'href="../notebooks/06_the_overflow.html"' in html


def test_a_dangling_link_fails_the_build(tmp_path):
    rc, _ = _with_links(tmp_path, ["[gone](../kernels/no_such_file.py)"])
    assert rc != 0


def test_recordings_are_grouped_by_device_and_rendered(tmp_path):
    res = tmp_path / "gpu"
    (res / "h200").mkdir(parents=True)
    (res / "a.json").write_text(json.dumps({"device": "GPU A", "date": "d", "records": [{"M": 1, "ok": True}]}))
    (res / "a.log").write_text("a log that names GPU A\n")
    (res / "h200" / "b.json").write_text(json.dumps({"device": "GPU B", "records": {"x": {"y": 2}}}))
    (res / "h200" / "b.log").write_text("no device named here\n")
    (res / "c.json").write_text(json.dumps({"device": "GPU B", "records": []}))
    (res / "mixed.log").write_text("names GPU A and GPU B\n")
    groups = {d: sorted(p.relative_to(res).as_posix() for p in fs)
              for d, fs in build.group_recordings(res).items()}
    # a log goes with its folder's one device (h200/), else with the one device its text names
    assert groups == {"GPU A": ["a.json", "a.log"], "GPU B": ["c.json", "h200/b.json", "h200/b.log"],
                      "Device not recorded": ["mixed.log"]}
    out = tmp_path / "pages"
    out.mkdir()
    name = build.device_page("GPU A", [res / "a.json", res / "a.log"], res, out)
    md = (out / f"{name}.md").read_text()
    assert "| M | ok |" in md and "| 1 | True |" in md and "a log that names GPU A" in md


def test_the_badge_cell_stays_out_of_the_site(tmp_path):
    """The badge (an image on Colab's server) is removed from pages; the setup cell is shown."""
    src = tmp_path / "src"
    build.stage(src)
    rel = "notebooks/00_environment_doctor.ipynb"
    colab.add_cells(src / rel, rel)     # the committed lessons carry both cells already
    cells = [c.get("id") for c in json.loads((src / rel).read_text())["cells"]]
    assert cells[0] == "colab-badge" and "colab-setup" in cells
    assert build.sphinx(src, tmp_path / "out") == 0
    html = (tmp_path / "out" / "notebooks" / "00_environment_doctor.html").read_text(encoding="utf-8")
    assert colab.BADGE_IMAGE not in html
    assert "colab.py" in html and "install" in html
