"""Build the course's static site from what is committed: no notebook is executed, no GPU is needed.

    python scripts/site_build.py [--out build/site]        (what `make site` runs)

Step 1 lays out a source tree under build/site-src: the lessons, the exercises' README and the
unsolved exercise notebooks, every docs/*.md, and one generated page per GPU that has recordings in
results/gpu/ (its JSON files as tables, its logs as text, its pictures). Step 2 runs Sphinx with
MyST-NB on it (configuration: docs/site/conf.py), with warnings as errors, so a broken cross-reference
fails the build. Paths inside the source tree mirror the repository, so relative links between
notebooks and docs keep working, and each page's Colab/Binder button points at the same file in git.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGES = (".png", ".svg", ".jpg", ".jpeg", ".gif")
SITE_CONF = ROOT / "docs" / "site"  # the Sphinx configuration and theme files, not content
# What a reader of the static site sees where the notebook shows live ipywidgets controls. The
# controls redraw through a Python kernel, which a static page does not have; the lesson kit draws
# the default picture before it shows the controls, so that picture is already on the page.
WIDGET_NOTE = ('<p class="widget-fallback"><em>Interactive controls go here: they redraw through '
               'Python, so they need a running notebook (JupyterLab, Colab or Binder). The output '
               'above is what they show at their default values.</em></p>')


def static_notebook(src: Path, dst: Path) -> None:
    """Copy a notebook, swapping each ipywidgets view for WIDGET_NOTE and dropping widget state.

    Without the state, MyST-NB loads no widget JavaScript (which it would fetch from a CDN).
    """
    nb = json.loads(src.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                out["data"] = {"text/html": WIDGET_NOTE}
                out["metadata"] = {}
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# GPU recordings: one page per device
# ---------------------------------------------------------------------------------------------
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def md_text(value) -> str:
    """Any value as literal Markdown text: CommonMark lets every ASCII punctuation be escaped."""
    return _PUNCT.sub(r"\\\1", str(value)).replace("\n", " ")


def _code(value) -> str:
    """Inline code of any text (a fence longer than any run of backticks inside it)."""
    text = str(value).replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _cell(v) -> str:
    return md_text(v if _scalar(v) else json.dumps(v))


def _table(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    out = ["| " + " | ".join(md_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return out + [""]


def render_value(value, depth: int) -> list[str]:
    """A JSON value as Markdown: uniform short records as one table, the rest key by key."""
    heading = "#" * min(depth, 6)
    if isinstance(value, dict):
        if all(_scalar(v) for v in value.values()):
            return _table([{"key": k, "value": v} for k, v in value.items()])
        lines: list[str] = []
        for k, v in value.items():
            lines += [f"{heading} {md_text(k)}", ""] + render_value(v, depth + 1)
        return lines
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            flat = all(_scalar(x) and len(str(x)) <= 60 for v in value for x in v.values())
            if flat:
                return _table(value)
            lines = []
            for i, v in enumerate(value, 1):
                lines += [f"{heading} record {i}", ""] + render_value(v, depth + 1)
            return lines
        return ["```text"] + [str(v) if _scalar(v) else json.dumps(v) for v in value] + ["```", ""]
    return [md_text(value), ""]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "device"


def group_recordings(results: Path) -> dict[str, list[Path]]:
    """device name -> its files. JSON names its device; a log, a picture or a JSON without a device
    field goes with the one device its folder's JSON files name, or else with the one device its own
    text names."""
    groups: dict[str, list[Path]] = {}
    files = sorted(p for p in results.rglob("*") if p.is_file())
    device_of: dict[Path, str] = {}
    for p in files:
        if p.suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            device_of[p] = data.get("device", "") if isinstance(data, dict) else ""
    for p in files:
        dev = device_of.get(p)
        if not dev:   # a log, a picture, or a JSON without a "device" field: its folder's device
            in_folder = {d for q, d in device_of.items() if q.parent == p.parent and d}
            if len(in_folder) != 1 and p.suffix in (".log", ".txt"):
                text = p.read_text(encoding="utf-8", errors="replace")
                in_folder = {d for d in set(device_of.values()) if d and d in text}
            dev = in_folder.pop() if len(in_folder) == 1 else ""
        groups.setdefault(dev or "Device not recorded", []).append(p)
    return groups


def device_page(device: str, files: list[Path], results: Path, out_dir: Path) -> str:
    """Write out_dir/<slug>.md (and the pictures it shows); return the page's name."""
    slug = _slug(device)
    lines = [f"# {md_text(device)}", "",
             f"What real runs on this GPU recorded, rendered from `results/gpu/` at build time "
             f"({len(files)} files). Each file names the command that made it.", ""]
    for p in files:
        rel = p.relative_to(results).as_posix()
        lines += [f"## {md_text(rel)}", ""]
        if p.suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            meta = {k: data.pop(k) for k in ("device", "date", "torch", "triton", "command")
                    if isinstance(data, dict) and k in data}
            if meta:
                lines += [" · ".join(f"**{k}** {_code(v)}" for k, v in meta.items()), ""]
            lines += render_value(data, 3)
        elif p.suffix.lower() in IMAGES:
            name = f"{slug}-{rel.replace('/', '-')}"
            shutil.copyfile(p, out_dir / name)
            lines += [f"![{md_text(rel)}]({name})", ""]
        else:
            text = p.read_text(encoding="utf-8", errors="replace").rstrip("\n")
            fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
            lines += [fence + "text", text, fence, ""]
    (out_dir / f"{slug}.md").write_text("\n".join(lines), encoding="utf-8")
    return slug


# ---------------------------------------------------------------------------------------------
# The source tree and the home page
# ---------------------------------------------------------------------------------------------
def readme_intro() -> tuple[str, str]:
    """The README's title and the text before its first section: the site's home page opens with it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", text, re.M)
    if not title:
        raise SystemExit("README.md has no '# title' line: the site's home page takes its title from it")
    body = text[title.end():]
    nxt = re.search(r"^## ", body, re.M)
    return title.group(1).strip(), body[:nxt.start() if nxt else len(body)].strip()


def _toctree(caption: str, pages: list[str]) -> list[str]:
    return ["```{toctree}", f":caption: {caption}", ":maxdepth: 1", ""] + pages + ["```", ""]


def stage(src: Path) -> None:
    """Lay out the site's source tree under src (wiped first)."""
    if src.exists():
        shutil.rmtree(src)
    lessons = sorted((ROOT / "notebooks").glob("*.ipynb"))
    exercises = sorted((ROOT / "exercises").glob("*.ipynb"))
    if not lessons:
        raise SystemExit("notebooks/ has no lesson: nothing to build")
    for nb in lessons + exercises:
        static_notebook(nb, src / nb.relative_to(ROOT))
    shutil.copyfile(ROOT / "exercises" / "README.md", src / "exercises" / "README.md")
    guides = sorted((ROOT / "docs").glob("*.md"))
    for md in guides:
        (src / "docs").mkdir(exist_ok=True)
        shutil.copyfile(md, src / "docs" / md.name)
    # pictures a page may show by relative path (e.g. ![](../results/gpu/h100/bench.png))
    for folder in ("results", "docs"):
        for pic in (ROOT / folder).rglob("*"):
            if pic.suffix.lower() in IMAGES and SITE_CONF not in pic.parents:
                (src / pic.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(pic, src / pic.relative_to(ROOT))
    results = ROOT / "results" / "gpu"
    rec_dir = src / "recordings"
    rec_dir.mkdir()
    devices = [device_page(dev, files, results, rec_dir)
               for dev, files in sorted(group_recordings(results).items())] if results.is_dir() else []

    title, intro = readme_intro()
    page = [f"# {title}", "", intro, ""]
    page += _toctree("Lessons", [p.relative_to(ROOT).with_suffix("").as_posix() for p in lessons])
    page += _toctree("Exercises", ["exercises/README"]
                     + [p.relative_to(ROOT).with_suffix("").as_posix() for p in exercises])
    if guides:
        page += _toctree("Guides", [f"docs/{p.stem}" for p in guides])
    if devices:
        page += _toctree("GPU recordings", [f"recordings/{d}" for d in devices])
    (src / "index.md").write_text("\n".join(page), encoding="utf-8")


def sphinx(src: Path, out: Path) -> int:
    """HTML from a laid-out source tree; warnings (a dangling link, say) fail the build."""
    if out.exists():
        shutil.rmtree(out)  # a page removed from the course must not linger in the site
    return subprocess.call([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                            "-c", str(SITE_CONF), "-d", str(src.parent / (src.name + "-doctrees")),
                            str(src), str(out)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="HTML output folder")
    ap.add_argument("--src", type=Path, default=ROOT / "build" / "site-src",
                    help="where the generated source tree goes (wiped first)")
    args = ap.parse_args(argv)
    stage(args.src)
    rc = sphinx(args.src, args.out)
    if rc == 0:
        print(f"site: {args.out / 'index.html'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
