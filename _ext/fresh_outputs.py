"""Sphinx extension: execute every notebook again when ``results/`` or ``pearlkit/`` has changed
since the execution cache was filled.

The chapters load the shipped agents from ``results/`` and run (and show the source of)
``pearlkit``. Neither is visible to what decides whether a notebook runs: Sphinx reads a page
again only when its source file changes, and the execution cache (``execute_notebooks: cache``)
keys a notebook on its code cells alone. So after a result is re-shipped, a ``git pull`` or a
change to the package, a build would show the old outputs beside the new files.

A fingerprint of both folders (their files' paths and bytes) is kept in the cache folder, written
when a build succeeds. When the fingerprint there is missing or differs from the folders', the
cache is emptied and every notebook is read, so executed, again.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

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


class FreshOutputs:
    """The build's two hooks, sharing the fingerprint of the folders as they were when it began."""

    def __init__(self) -> None:
        self.fingerprint: str | None = None

    def notebooks_to_execute_again(self, app, env, added, changed, removed) -> list[str]:
        """Every notebook, with the cache emptied, when the stored fingerprint is not the folders'."""
        nb_config = env.mystnb_config
        if nb_config.execution_mode != "cache":
            return []
        self.fingerprint = inputs_fingerprint(Path(app.srcdir))
        stored = Path(nb_config.execution_cache_path) / FINGERPRINT_FILE
        if stored.is_file() and stored.read_text() == self.fingerprint:
            return []
        from jupyter_cache import get_cache  # myst-nb's dependency; needed only here

        cache = get_cache(nb_config.execution_cache_path)
        if not cache.list_cache_records():  # nothing executed yet, so nothing is stale
            return []
        why = "changed since" if stored.is_file() else "may have changed since (no fingerprint stored)"
        cache.clear_cache()  # the fingerprint with it
        notebooks = sorted(doc for doc in env.found_docs if str(env.doc2path(doc)).endswith(".ipynb"))
        logger.info("fresh_outputs: results/ or pearlkit/ %s the notebooks were executed; executing all %d again",
                    why, len(notebooks))
        return notebooks

    def store_fingerprint(self, app, exception) -> None:
        """Record the fingerprint once the build has succeeded: a failed build starts over next time."""
        if exception is None and self.fingerprint is not None:
            cache = Path(app.env.mystnb_config.execution_cache_path)
            cache.mkdir(parents=True, exist_ok=True)
            (cache / FINGERPRINT_FILE).write_text(self.fingerprint)


def setup(app):
    hooks = FreshOutputs()
    app.connect("env-get-outdated", hooks.notebooks_to_execute_again)
    app.connect("build-finished", hooks.store_fingerprint)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
