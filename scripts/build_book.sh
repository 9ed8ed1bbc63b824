#!/usr/bin/env bash
# Build the book (HTML) from the committed, executed notebooks. Any Sphinx warning fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/jupyter-book build -W -n --keep-going .
echo
echo "Book built: open $(pwd)/_build/html/index.html"
