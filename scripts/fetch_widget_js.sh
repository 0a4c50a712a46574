#!/usr/bin/env bash
# Fetch the JavaScript the book's pages need from the npm registry: the Jupyter widget
# manager and require.js into _vendor/widgets/ (so saved widget state renders), and MathJax 3
# into _vendor/mathjax/ (so equations render). The built book then needs no CDN (offline
# readers, CI). Without these files the book still builds and loads them from CDNs.
# Needs npm; run once after cloning (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
HTML_MANAGER=1.0.15   # @jupyter-widgets/html-manager 1.0.x renders ipywidgets 8 state
REQUIREJS=2.3.7
MATHJAX=3.2.2
dest=_vendor/widgets
mathjax=_vendor/mathjax
if [[ -s $dest/embed-amd.js && -s $dest/require.js && -s $mathjax/tex-chtml.js ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm not found: the built book will load the widget JavaScript from a CDN (install npm to serve it locally)" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" \
  "mathjax@$MATHJAX" >/dev/null)
mkdir -p "$tmp/manager" "$tmp/requirejs" "$tmp/mathjax" "$dest" "$mathjax/output/chtml/fonts" "$mathjax/input/tex"
tar xzf "$tmp/jupyter-widgets-html-manager-$HTML_MANAGER.tgz" -C "$tmp/manager"
tar xzf "$tmp/requirejs-$REQUIREJS.tgz" -C "$tmp/requirejs"
# embed-amd.js plus the icon fonts it references (same folder); not the other bundles or maps.
cp "$tmp/manager/package/dist/embed-amd.js" "$tmp"/manager/package/dist/*.{woff,woff2,ttf,eot,svg} "$dest/"
cp "$tmp/requirejs/package/require.js" "$dest/require.js"
# MathJax: the TeX-to-HTML bundle plus what it loads on demand (fonts, TeX extensions, menu).
tar xzf "$tmp/mathjax-$MATHJAX.tgz" -C "$tmp/mathjax"
es5="$tmp/mathjax/package/es5"
cp "$es5/tex-chtml.js" "$mathjax/"
cp -r "$es5/output/chtml/fonts/woff-v2" "$mathjax/output/chtml/fonts/"
cp -r "$es5/input/tex/extensions" "$mathjax/input/tex/"
cp -r "$es5/ui" "$es5/a11y" "$mathjax/"
echo "in _vendor/: widgets/ (html-manager $HTML_MANAGER, requirejs $REQUIREJS), mathjax/ (MathJax $MATHJAX)"
