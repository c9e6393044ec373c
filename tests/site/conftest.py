"""tests/site: the built site in headless Chromium, the workflows under actionlint, Binder.

`make test` collects tests/ but must stay lean (no site tools, no browser): these run only under
`make test-site`, which builds the site first and sets COURSE_SITE_TESTS=1.
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if os.environ.get("COURSE_SITE_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
else:
    sys.path.insert(0, str(ROOT / "scripts"))
