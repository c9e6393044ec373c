"""Check the built site in a real browser: headless Chromium, driven through the DevTools protocol.

    python scripts/site_check.py [build/site]       (tests/site/test_browser.py runs the same code)

The site is served from a local http.server on 127.0.0.1; Chromium resolves no other host, so a page
that needs the network (a CDN script, a remote image) fails here as it would for a reader offline.
For every page: it loads, the console shows no error (nor an uncaught exception, nor a failed
resource), every image has loaded (naturalWidth > 0), and every internal link resolves (the file is
served with HTTP 200 and a #fragment names an element of that page). Chromium is Debian's
`chromium` package; websocket-client speaks the protocol.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket  # websocket-client, pinned in requirements-site.txt

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium with one tab; `call` sends a DevTools command and returns its result."""

    def __init__(self, binary: str | None = None, timeout: float = 30.0):
        # $CHROMIUM names another Chromium-based browser (GitHub's runners ship google-chrome)
        wanted = os.environ.get("CHROMIUM")
        binary = binary or (shutil.which(wanted) if wanted else next(
            (b for b in map(shutil.which, BROWSERS) if b), None))
        if wanted and not binary:
            raise BrowserError(f"CHROMIUM={wanted}: no such browser on PATH")
        if not binary:
            raise BrowserError("no Chromium found: install Debian's `chromium` package "
                               "(apt-get install -y chromium; .ci/run does this) or set $CHROMIUM")
        self.timeout = timeout
        self.profile = Path(tempfile.mkdtemp(prefix="site-check-"))
        self.log = open(self.profile / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--hide-scrollbars", "--window-size=1280,900",
             # every host but the local server is unknown: the site must not need the network
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._ids = itertools.count(1)
        self.events: list[dict] = []
        try:
            self.ws = websocket.create_connection(self._page_socket(), timeout=timeout,
                                                  suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
        except Exception:
            self.close()
            raise

    def _page_socket(self) -> str:
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"Chromium exited with {self.proc.returncode}; its log: "
                                   f"{(self.profile / 'chromium.log').read_text(errors='replace')[-2000:]}")
            if port_file.exists() and port_file.read_text().count("\n") >= 1:
                port = port_file.read_text().split()[0]
                tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5))
                pages = [t for t in tabs if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise BrowserError(f"Chromium did not open its DevTools port within {self.timeout:.0f} s")

    def call(self, method: str, **params) -> dict:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise BrowserError(f"{method}: no answer within {self.timeout:.0f} s")

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for ev in self.events:
                if ev["method"] == method:
                    return ev
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            finally:
                self.ws.settimeout(self.timeout)
            if "method" in msg:
                self.events.append(msg)
        raise BrowserError(f"no {method} within {self.timeout:.0f} s")

    def evaluate(self, expression: str):
        """Evaluate JavaScript in the page (promises awaited); returns its value or raises."""
        res = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                        returnByValue=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"script failed: {res['exceptionDetails'].get('text')} "
                               f"{res['exceptionDetails'].get('exception', {}).get('description', '')}")
        return res["result"].get("value")

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event; the events list then holds this page's only."""
        self.events.clear()
        res = self.call("Page.navigate", url=url)
        if res.get("errorText"):
            raise BrowserError(f"{url}: {res['errorText']}")
        self.wait_event("Page.loadEventFired")

    def screenshot(self, clip: dict | None = None) -> bytes:
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = dict(clip, scale=1)
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the checker reports what matters
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a browser cancels requests it no longer needs (e.g. on navigation): not a site problem
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(root: Path):
    """Serve root on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# What the checker reads from a loaded page. Lazy images are made eager and decoded first, so an
# image below the fold counts; decode() rejects for a broken image, which naturalWidth then shows.
PAGE_FACTS = """(async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  await document.fonts.ready;
  return {
    images: imgs.map(i => ({src: i.getAttribute('src'), url: i.currentSrc || i.src,
                            width: i.naturalWidth})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id)
         .concat([...document.querySelectorAll('a[name]')].map(a => a.name)),
    title: document.title,
  };
})()"""


@dataclass
class PageResult:
    path: str
    title: str = ""
    images: int = 0
    links: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Report:
    pages: list[PageResult]
    problems: list[str]

    def summary(self) -> str:
        imgs = sum(p.images for p in self.pages)
        links = sum(p.links for p in self.pages)
        head = (f"{len(self.pages)} pages, {imgs} images, {links} links checked: "
                f"{len(self.problems)} problems")
        return "\n".join([head] + [f"  {p}" for p in self.problems])


def _console_errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        p = ev.get("params", {})
        if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                      for a in p.get("args", [])))
        elif ev["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"uncaught exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif ev["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"console error ({e.get('source')}): {e.get('text')} {e.get('url', '')}".rstrip())
    return out


def site_pages(root: Path) -> list[str]:
    """Every HTML page of a built site (theme templates under _static are not pages)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                  if not p.relative_to(root).parts[0].startswith("_"))


def check_site(root: Path, pages: list[str] | None = None, browser: Chromium | None = None,
               on_page=None) -> Report:
    """Visit pages (default: every page) of the site built in root; see the module's docstring.

    on_page(browser, path) runs on each loaded page (e.g. to take a screenshot).
    """
    root = Path(root)
    pages = site_pages(root) if pages is None else pages
    results: dict[str, PageResult] = {}
    ids_of: dict[str, set[str]] = {}
    links_from: dict[str, list[str]] = {}
    own = browser is None
    browser = browser or Chromium()
    try:
        with serve(root) as base:
            for path in pages:
                r = results[path] = PageResult(path)
                try:
                    browser.goto(base + path)
                    facts = browser.evaluate(PAGE_FACTS)
                except BrowserError as e:
                    r.problems.append(f"page did not load: {e}")
                    continue
                time.sleep(0.2)  # let late console messages arrive
                browser.call("Runtime.evaluate", expression="0")  # drains pending events
                r.problems += _console_errors(browser.events)
                r.title, r.images, r.links = facts["title"], len(facts["images"]), len(facts["links"])
                r.problems += [f"image not loaded: {i['src']} ({i['url']})"
                               for i in facts["images"] if not i["width"]]
                ids_of[path] = set(facts["ids"])
                links_from[path] = [u for u in facts["links"] if u.startswith(base)]
                if on_page:
                    on_page(browser, path)
            # internal links: each target once, the file over HTTP, the #fragment among its ids
            status: dict[str, int] = {}
            for page, links in links_from.items():
                for url in links:
                    target, _, frag = url.partition("#")
                    rel = urllib.parse.unquote(urllib.parse.urlsplit(target).path).lstrip("/")
                    if rel == "" or rel.endswith("/"):
                        rel += "index.html"
                    if target not in status:
                        try:
                            with urllib.request.urlopen(target, timeout=10) as resp:
                                status[target] = resp.status
                        except urllib.error.HTTPError as e:
                            status[target] = e.code
                    if status[target] != 200:
                        results[page].problems.append(f"broken link: {url[len(base) - 1:]} (HTTP {status[target]})")
                    elif frag and rel in ids_of and urllib.parse.unquote(frag) not in ids_of[rel]:
                        results[page].problems.append(f"broken link: {url[len(base) - 1:]} (no element #{frag})")
    finally:
        if own:
            browser.close()
    problems = [f"{r.path}: {p}" for r in results.values() for p in r.problems]
    return Report(list(results.values()), problems)


def blank_stats(png: bytes) -> dict:
    """How much of a picture differs from its most common colour (a blank one: almost nothing)."""
    import io

    from PIL import Image  # matplotlib's dependency, in requirements.txt's closure
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colors = img.getcolors(maxcolors=img.width * img.height)
    background = max(colors)[0]
    total = img.width * img.height
    return {"width": img.width, "height": img.height, "colors": len(colors),
            "ink": 1 - background / total}


def is_blank(png: bytes, min_ink: float = 0.01, min_colors: int = 8) -> bool:
    s = blank_stats(png)
    return s["ink"] < min_ink or s["colors"] < min_colors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", nargs="?", type=Path, default=ROOT / "build" / "site")
    args = ap.parse_args(argv)
    if not (args.site / "index.html").exists():
        print(f"{args.site} has no index.html: run `make site` first")
        return 2
    try:
        report = check_site(args.site)
    except BrowserError as e:
        print(f"site_check: {e}")
        return 2
    print(report.summary())
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
