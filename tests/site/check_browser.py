"""Every page of the built site in headless Chromium (scripts/site_check.py), and proof the check fails.

Run by `make test-site` (after `make site`). The files here are named check_*.py so that `make test`,
which collects tests/ and must stay lean (no site tools, no browser), leaves them out.
"""
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import site_check as sc  # noqa: E402
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "build" / "site-test"  # ignored (build/)
LESSON_06 = "notebooks/06_the_overflow.html"

sys.path.insert(0, str(ROOT))
from course import colab  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sc.Chromium() as b:
        yield b


@pytest.fixture(scope="module")
def report(browser):
    if not (SITE / "index.html").exists():
        pytest.fail("build/site has no index.html: `make test-site` builds it (make site)")
    shots = {}
    SHOTS.mkdir(parents=True, exist_ok=True)

    def lesson06_plots(b, path):
        if path != LESSON_06:
            return
        boxes = b.evaluate("""[...document.querySelectorAll('.cell_output img')].map(i => {
            const r = i.getBoundingClientRect();
            return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};
        })""")
        for n, box in enumerate(boxes):
            png = b.screenshot(box)
            (SHOTS / f"lesson06-plot{n}.png").write_bytes(png)
            shots[n] = png

    rep = sc.check_site(SITE, browser=browser, on_page=lesson06_plots)
    rep.shots = shots
    print(rep.summary())
    return rep


def test_every_page_loads_without_console_errors_broken_images_or_links(report):
    assert report.problems == [], report.summary()


def test_every_page_of_the_course_is_in_the_site(report):
    visited = {p.path for p in report.pages}
    for folder in ("notebooks", "exercises"):
        for nb in sorted((ROOT / folder).glob("*.ipynb")):
            assert f"{folder}/{nb.stem}.html" in visited, f"{folder}/{nb.name} has no page"
    assert "exercises/README.html" in visited
    for md in (ROOT / "docs").glob("*.md"):
        assert f"docs/{md.stem}.html" in visited, f"docs/{md.name} has no page"
    assert any(p.startswith("recordings/") for p in visited), "no page of GPU recordings"
    assert sum(p.images for p in report.pages) > 0 and sum(p.links for p in report.pages) > 0


def test_lesson_06_shows_its_plots(report):
    assert report.shots, f"{LESSON_06} shows no output image"
    for n, png in report.shots.items():
        stats = sc.blank_stats(png)
        assert not sc.is_blank(png), f"lesson 06 plot {n} looks blank in the browser: {stats}"
        assert stats["width"] > 300 and stats["height"] > 150, stats


def test_navigation_follows_the_course_order(browser):
    """Next-page links from the home page walk the lessons 00..09, then the exercises."""
    order = []
    with sc.serve(SITE) as base:
        url = base + "index.html"
        for _ in range(100):
            browser.goto(url)
            nxt = browser.evaluate("(a => a && a.href)(document.querySelector('a.right-next'))")
            if not nxt:
                break
            url = nxt
            order.append(nxt[len(base):])
    lessons = [f"notebooks/{p.stem}.html" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    exercises = ["exercises/README.html"] + [f"exercises/{p.stem}.html"
                                              for p in sorted((ROOT / "exercises").glob("*.ipynb"))]
    assert order[:len(lessons) + len(exercises)] == lessons + exercises, order
    assert set(order) | {"index.html"} >= set(sc.site_pages(SITE)) - {"genindex.html", "search.html"}


def test_search_finds_the_overflow_lesson(browser):
    with sc.serve(SITE) as base:
        browser.goto(base + "search.html?q=overflow")
        hits = browser.evaluate("""new Promise(done => {
            const t0 = Date.now();
            (function poll() {
              const a = [...document.querySelectorAll('#search-results li a')].map(a => a.href);
              if (a.length || Date.now() - t0 > 15000) done(a); else setTimeout(poll, 100);
            })();
        })""")
    assert any(h.endswith(LESSON_06) for h in hits), hits


def test_launch_buttons_open_each_notebook_where_colab_py_says(browser):
    with sc.serve(SITE) as base:
        for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))[:3] + [ROOT / "exercises" / "01_silu_mul.ipynb"]:
            rel = nb.relative_to(ROOT).as_posix()
            browser.goto(base + rel.replace(".ipynb", ".html"))
            hrefs = browser.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
            assert colab.colab_url(rel, colab.repository()) in hrefs, rel
            assert colab.binder_url(rel, colab.repository()) in hrefs, rel


# ---------------------------------------------------------------------------------------------
# The checker can fail
# ---------------------------------------------------------------------------------------------
def test_checker_reports_a_broken_image_and_a_broken_link(browser, tmp_path):
    """A copy of lesson 06's page with one image pointing nowhere and one link to no page."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    page = site / LESSON_06
    html = page.read_text(encoding="utf-8")
    html, n = re.subn(r'src="(\.\./_images/)[0-9a-f]+\.png"', r'src="\1no-such-plot.png"', html, count=1)
    assert n == 1, "lesson 06 has no output image to break"
    html = html.replace("</article>", '<p><a href="no-such-page.html#x">gone</a></p></article>', 1)
    page.write_text(html, encoding="utf-8")

    rep = sc.check_site(site, pages=[LESSON_06, "index.html"], browser=browser)
    text = "\n".join(rep.problems)
    assert any("image not loaded" in p and "no-such-plot.png" in p for p in rep.problems), text
    assert any("broken link" in p and "no-such-page.html" in p and "404" in p for p in rep.problems), text
    assert any("console error" in p and "404" in p for p in rep.problems), text
    assert all(p.startswith(LESSON_06) for p in rep.problems), text  # the intact page passes


def test_checker_reports_a_missing_anchor_and_a_script_error(browser, tmp_path):
    (tmp_path / "a.html").write_text('<!doctype html><title>a</title><p id="here">x</p>'
                                     '<a href="a.html#here">ok</a><a href="a.html#nowhere">bad</a>'
                                     '<script>undefinedFunction()</script>', encoding="utf-8")
    (tmp_path / "favicon.ico").write_bytes(b"")
    rep = sc.check_site(tmp_path, pages=["a.html"], browser=browser)
    assert any("#nowhere" in p for p in rep.problems), rep.problems
    assert not any("#here" in p for p in rep.problems), rep.problems
    assert any("uncaught exception" in p and "undefinedFunction" in p for p in rep.problems), rep.problems


def test_blank_check_tells_a_blank_picture_from_a_plot():
    import io

    from PIL import Image, ImageDraw
    blank = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(blank, "PNG")
    assert sc.is_blank(blank.getvalue())
    plot = Image.new("RGB", (400, 200), "white")
    d = ImageDraw.Draw(plot)
    for i in range(10):
        d.line([(0, 20 * i), (400, 200 - 20 * i)], fill=(30 * i % 255, 80, 200 - 15 * i), width=3)
    drawn = io.BytesIO()
    plot.save(drawn, "PNG")
    assert not sc.is_blank(drawn.getvalue())
