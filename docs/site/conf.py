"""Sphinx configuration of the course site. Built by `make site` (scripts/site.py lays out the source)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from course import colab  # noqa: E402  (stdlib only: the repository's address lives there)

project = "One bug, two kernels"
author = "the course's authors"
copyright = "the course's authors, Apache-2.0"

extensions = ["myst_nb"]
# Stored outputs only: the site is built on machines without a GPU, and never runs a notebook.
nb_execution_mode = "off"
# Notebooks print long tables and logs: let them scroll rather than wrap mid-number.
nb_merge_streams = True
# show text as written: "--sweep" must not become an en dash
smartquotes = False
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["**/.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_favicon = "_static/favicon.svg"  # else browsers ask for /favicon.ico, which a static site lacks
# the theme logs a console error on a first visit when no colour mode was ever chosen
html_context = {"default_mode": "auto"}
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": colab.repository(),
    "repository_branch": colab.BRANCH,
    "path_to_docs": "",  # scripts/site.py mirrors the repository's paths
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": colab.COLAB, "binderhub_url": colab.BINDER,
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
