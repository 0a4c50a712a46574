#!/usr/bin/env bash
# Fetch the Jupyter widgets' JavaScript from the npm registry into _static/widgets/, so the
# built book renders saved widget state from its own files, with no CDN (offline readers,
# CI). Without these files the book still builds and loads that JavaScript from a CDN.
# Needs npm; run once after cloning (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
HTML_MANAGER=1.0.15   # @jupyter-widgets/html-manager 1.0.x renders ipywidgets 8 state
REQUIREJS=2.3.7
dest=_static/widgets
if [[ -s $dest/embed-amd.js && -s $dest/require.js ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm not found: the built book will load the widget JavaScript from a CDN (install npm to serve it locally)" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" >/dev/null)
mkdir -p "$tmp/manager" "$tmp/requirejs" "$dest"
tar xzf "$tmp/jupyter-widgets-html-manager-$HTML_MANAGER.tgz" -C "$tmp/manager"
tar xzf "$tmp/requirejs-$REQUIREJS.tgz" -C "$tmp/requirejs"
# embed-amd.js plus the icon fonts it references (same folder); not the other bundles or maps.
cp "$tmp/manager/package/dist/embed-amd.js" "$tmp"/manager/package/dist/*.{woff,woff2,ttf,eot,svg} "$dest/"
cp "$tmp/requirejs/package/require.js" "$dest/require.js"
echo "widget JavaScript in $dest/ (html-manager $HTML_MANAGER, requirejs $REQUIREJS)"
