"""Sphinx extension: serve the Jupyter widgets' JavaScript and MathJax from the book itself,
and the widget JavaScript only on the pages that have widgets.

myst-nb loads require.js and the widget manager (which renders saved widget state on a
static page) from a CDN, and Sphinx loads MathJax from one, so offline pages show neither
widgets nor equations. When ``scripts/fetch_widget_js.sh`` has put them in ``_vendor/``,
pages load them from the book's ``_static/`` instead; otherwise the CDN defaults stay.
(``_vendor/`` joins the static path here, after Jupyter Book has set up the config: Jupyter
Book adds *every* ``.js`` file of a static path to every page, which would load all of
MathJax's extensions and the widget manager everywhere.)

It also tidies each page's script list. With Sphinx 7.4, scripts that myst-nb and
sphinx-thebe add while one page is written stay registered for the pages written after it,
so pages without widgets got the widget manager too (which fails there: it expects
require.js first), and inline scripts appeared twice (``const THEBE_JS_URL`` declared twice
is a JavaScript error). Each page now gets each script once; widget pages get require.js
before the widget manager; other pages get neither. ``_static/widget_mathjax_shim.js`` (which Jupyter
Book adds to every page, like any ``.js`` file in ``_static/``) lets the widget manager, which
speaks MathJax 2, typeset with the book's MathJax 3.
"""
from __future__ import annotations

from pathlib import Path

from sphinx.util import logging

LOCAL_FILES = ("widgets/require.js", "widgets/embed-amd.js")
LOCAL_MATHJAX = "mathjax/tex-chtml.js"
VENDOR = "_vendor"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
logger = logging.getLogger(__name__)


def _use_local_files(app, config) -> None:
    vendor = Path(app.confdir) / VENDOR
    missing = [name for name in (*LOCAL_FILES, LOCAL_MATHJAX) if not (vendor / name).is_file()]
    if missing:
        logger.info("offline_widgets: %s missing (run scripts/fetch_widget_js.sh); loading from CDNs",
                    ", ".join(missing))
        return
    config.html_static_path = [*config.html_static_path, VENDOR]
    config.mathjax_path = LOCAL_MATHJAX
    config.nb_ipywidgets_js = {name: {} for name in LOCAL_FILES}


def _widget_script_rank(script) -> int | None:
    """0 for require.js, 1 for the widget manager, None for any other script."""
    name = str(getattr(script, "filename", "") or "")
    if name.endswith(("require.js", "require.min.js")):
        return 0
    if name.endswith("embed-amd.js"):
        return 1
    return None


def _tidy_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    has_widgets = any(getattr(s, "attributes", {}).get("type") == WIDGET_STATE for s in scripts)
    seen, others, widget_scripts = set(), [], []
    for script in scripts:
        # a file once (whatever its attributes: MathJax came twice, once deferred), inline code once
        name = str(getattr(script, "filename", None) or "").removeprefix("_static/")
        key = name or str(getattr(script, "attributes", {}).get("body"))
        if key in seen:
            continue
        seen.add(key)
        rank = _widget_script_rank(script)
        if rank is None:
            others.append(script)
        elif has_widgets:
            widget_scripts.append((rank, script))
    # A new list (not an in-place edit): Sphinx shares the original between pages.
    context["script_files"] = others + [script for _, script in sorted(widget_scripts, key=lambda p: p[0])]


def setup(app):
    app.connect("config-inited", _use_local_files)
    app.connect("html-page-context", _tidy_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
