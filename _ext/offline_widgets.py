"""Sphinx extension: serve the Jupyter widgets' JavaScript from the book itself.

myst-nb loads require.js and the widget manager (which renders saved widget state on a
static page) from a CDN, so offline pages show no widgets. When
``scripts/fetch_widget_js.sh`` has put both files in ``_static/widgets/``, pages load them
from there instead; otherwise the CDN default stays.
"""
from __future__ import annotations

from pathlib import Path

from sphinx.util import logging

LOCAL_FILES = ("widgets/require.js", "widgets/embed-amd.js")
logger = logging.getLogger(__name__)


def _use_local_files(app, config) -> None:
    static = Path(app.confdir) / "_static"
    missing = [name for name in LOCAL_FILES if not (static / name).is_file()]
    if missing:
        logger.info("offline_widgets: %s missing (run scripts/fetch_widget_js.sh); widgets load from a CDN",
                    ", ".join(missing))
        return
    config.nb_ipywidgets_js = {name: {} for name in LOCAL_FILES}


def setup(app):
    app.connect("config-inited", _use_local_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
