"""Sphinx extension: execute every notebook again when ``results/`` or ``pearlkit/`` has changed
since the execution cache was filled.

The chapters load the shipped agents from ``results/`` and run (and show the source of)
``pearlkit``. Neither is visible to what decides whether a notebook runs: Sphinx reads a page
again only when its source file changes, and the execution cache (``execute_notebooks: cache``)
keys a notebook on its code cells alone. So after a result is re-shipped, a ``git pull`` or a
change to the package, a build would show the old outputs beside the new files.

A fingerprint of both folders (their files' paths and bytes; a symlinked folder inside them is
not followed) is kept in the cache folder. When it is missing or differs from the folders', the
cache is emptied, Sphinx's saved environment deleted, and every notebook read, so executed, again.
This applies with ``execute_notebooks: cache`` only, and any change under the two folders (a
re-rendered video too) executes every notebook.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from sphinx.application import ENV_PICKLE_FILENAME
from sphinx.util import logging

WATCHED = ("results", "pearlkit")
FINGERPRINT_FILE = "pearlkit-inputs.sha256"
logger = logging.getLogger(__name__)


def inputs_fingerprint(root: Path) -> str:
    """SHA-256 over the relative path and bytes of every file under ``WATCHED`` (caches skipped)."""
    digest = hashlib.sha256()
    for folder in WATCHED:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def notebooks_to_execute_again(app, env, added, changed, removed) -> list[str]:
    """Every notebook, with the execution cache emptied, when the folders' fingerprint is not the
    one stored beside the cache; none otherwise."""
    nb_config = env.mystnb_config
    if nb_config.execution_mode != "cache":
        return []
    fingerprint = inputs_fingerprint(Path(app.srcdir))
    stored = Path(nb_config.execution_cache_path) / FINGERPRINT_FILE
    if stored.is_file() and stored.read_text() == fingerprint:
        return []
    from jupyter_cache import get_cache  # myst-nb's dependency; needed only here

    cache = get_cache(nb_config.execution_cache_path)
    notebooks = sorted(doc for doc in env.found_docs if str(env.doc2path(doc)).endswith(".ipynb"))
    # Outputs can be stale in the execution cache and in Sphinx's own environment (the pages
    # read before); where neither holds any, every page is read as new anyway.
    if cache.list_cache_records() or any(doc in env.all_docs for doc in notebooks):
        why = "changed since" if stored.is_file() else "may have changed since (no fingerprint stored)"
        logger.info("\nfresh_outputs: results/ or pearlkit/ %s the notebooks were executed; executing all %d "
                    "again", why, len(notebooks))
        cache.clear_cache()
        # Without its saved environment, a build stopped before it ends reads every page again next
        # time (the cache serves those already executed), instead of keeping the old pages.
        Path(app.doctreedir, ENV_PICKLE_FILENAME).unlink(missing_ok=True)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(fingerprint)
    return notebooks


def setup(app):
    app.connect("env-get-outdated", notebooks_to_execute_again)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
