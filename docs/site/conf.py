"""Sphinx configuration of the course site. Built by `make site` (scripts/site_build.py lays out the source)."""
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
    "path_to_docs": "",  # scripts/site_build.py mirrors the repository's paths
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": colab.COLAB, "binderhub_url": colab.BINDER,
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}



def setup(app):
    import posixpath

    from docutils import nodes
    from sphinx import addnodes
    from sphinx.transforms.post_transforms import SphinxPostTransform

    class RepositoryFiles(SphinxPostTransform):
        """A link from a page to a repository file that is not a page of the site (kernels/*.py,
        README.md, results/gpu/*.json, ...) opens that file on GitHub instead of failing the build.
        Runs just before MyST resolves its references (priority 9); anything else is left to MyST."""
        default_priority = 8

        def run(self, **kwargs):
            for node in list(self.document.findall(addnodes.pending_xref)):
                if node.get("reftype") != "myst" or node.get("refdomain") == "doc":
                    continue
                target, _, frag = node["reftarget"].partition("#")
                refdoc = node.get("refdoc", self.env.docname)
                path = posixpath.normpath(posixpath.join(posixpath.dirname(refdoc), target))
                if not target or path.startswith("..") or not (ROOT / path).exists():
                    continue
                kind = "tree" if (ROOT / path).is_dir() else "blob"
                uri = f"{colab.repository()}/{kind}/{colab.BRANCH}/{path}" + (f"#{frag}" if frag else "")
                ref = nodes.reference("", "", internal=False, refuri=uri)
                ref += node[0].deepcopy()
                node.replace_self(ref)

    app.add_post_transform(RepositoryFiles)
