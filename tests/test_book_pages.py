"""Browser test of the built book: each chapter page opened in headless Chromium, offline.

Runs after ``jupyter-book build .`` (``python -m pytest -m browser``; `.ci/run` does both).
For each chapter it checks that the page's JavaScript runs without errors, that every local
file the page loads exists, that its figures and animations are there, and that its widgets
render their saved state from the book's own JavaScript (no CDN). It leaves a screenshot of
each page in ``_build/screenshots/`` to look at.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
# What each page must show: (figures at least, JavaScript animations, live widgets, videos)
EXPECTED = {
    "00_introduction": (1, 0, 0, 0),
    "01_task_family": (3, 0, 0, 0),
    "02_inference_network": (0, 1, 1, 0),
    "03_soft_actor_critic": (2, 0, 0, 0),
    "04_pearl_loop": (5, 0, 0, 0),
    "05_exploration": (2, 1, 1, 0),
    "06_locomotion": (4, 0, 0, 4),  # films: the cheetah, both ants, the humanoid
    "07_results": (0, 0, 0, 0),
}
# A page that plays one video and writes what the browser made of it into its title.
VIDEO_PROBE = """<!doctype html><title>loading</title>
<video id="v" muted src="{src}"></video>
<script>
const v = document.getElementById("v");
v.addEventListener("loadeddata", () => {{
  document.title = `playable ${{v.duration.toFixed(1)}} s ${{v.videoWidth}}x${{v.videoHeight}}`;
}});
v.addEventListener("error", () => {{ document.title = `error ${{v.error && v.error.code}}`; }});
</script>"""
# Chromium's flags for a machine without network or display (as shared/tools/screenshot-page).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=15000"]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=180)


@pytest.fixture(scope="module", autouse=True)
def _built_book():
    if not (HTML / "index.html").exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail("the browser test needs the built book (_build/html) and chromium")
        pytest.skip("build the book (jupyter-book build .) and install chromium first")


def test_every_chapter_has_expectations():
    assert set(CHAPTERS) == set(EXPECTED)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_renders_offline(chapter):
    page = HTML / "chapters" / f"{chapter}.html"
    assert page.exists(), f"{page} was not built"
    source = page.read_text()
    local = [unquote(urlparse(u).path) for u in re.findall(r'(?:src|href)="([^"#?]+)', source)
             if not re.match(r"[a-z]+:", u)]
    missing = [u for u in local if not (page.parent / u).exists()]
    assert not missing, f"{chapter} links to files that are not in the build: {missing}"
    for package in ("@jupyter-widgets", "mathjax"):  # served from the book itself (scripts/fetch_widget_js.sh)
        assert f"cdn.jsdelivr.net/npm/{package}" not in source, f"{chapter} loads {package} from a CDN"

    run = _chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    dom = run.stdout
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if re.search(r"Uncaught|Error|Failed", line)]
    assert not errors, f"{chapter}: JavaScript errors:\n" + "\n".join(errors)

    figures, animations, widgets, videos = EXPECTED[chapter]
    images = re.findall(r'<img[^>]+src="(?!data:)[^"]*_images/[^"]+\.png"', dom)
    assert len(images) >= figures, f"{chapter}: {len(images)} figures, expected at least {figures}"
    # to_jshtml animations: their first frame is drawn into the page by their JavaScript
    shown = re.findall(r'<img id="_anim_img[0-9a-f]+" src="data:image/png;base64', dom)
    assert len(shown) == animations, f"{chapter}: {len(shown)} animations playing, expected {animations}"
    # saved widget state rendered by the widget manager: a live slider, dropdown and image
    for kind in ("widget-slider", "widget-dropdown", "widget-image"):
        assert dom.count(f"{kind}") >= widgets, f"{chapter}: {kind} not rendered from the saved widget state"

    sources = re.findall(r'<video[^>]*>\s*<source src="(data:video/mp4;base64,[^"]+)"', source)
    assert len(sources) == videos, f"{chapter}: {len(sources)} embedded videos, expected {videos}"
    for src in sources:
        with tempfile.TemporaryDirectory() as folder:
            probe = Path(folder) / "probe.html"
            probe.write_text(VIDEO_PROBE.format(src=src))
            title = re.search(r"<title>(.*?)</title>", _chromium("--dump-dom", probe.as_uri()).stdout).group(1)
        assert title.startswith("playable"), f"{chapter}: Chromium cannot play its video ({title})"
        assert float(title.split()[1]) > 1.0, f"{chapter}: the video is too short ({title})"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{chapter}.png"
    _chromium("--window-size=1280,16000", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
