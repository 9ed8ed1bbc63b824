#!/usr/bin/env bash
# Build the book (HTML) from the committed, executed notebooks, in both editions: English at
# _build/html/, Chinese at _build/html/zh/ (the same notebooks with the catalogs in locale/zh_CN;
# scripts/i18n.py). Any Sphinx warning fails the build, i18n warnings included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/jupyter-book build -W -n --keep-going .
echo "== the Chinese edition (_build/html/zh)"
.venv/bin/python scripts/i18n.py build
echo
echo "Book built: open $(pwd)/_build/html/index.html (中文版: $(pwd)/_build/html/zh/index.html)"
