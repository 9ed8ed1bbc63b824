#!/usr/bin/env bash
# Set up everything the book and the tests need; safe to re-run (each step is skipped when current).
#   bash scripts/setup.sh               # what building the book needs
#   bash scripts/setup.sh --references  # and .venv-tf5, the second reference the tests compare with
#   - .venv from requirements.txt (+ this package, editable)
#   - node_modules from package-lock.json (ipywidgets HTML manager, MathJax)
#   - _book_static/: the JS and fonts the static site serves itself, so it needs no other host
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
want=$(stamp requirements.txt pyproject.toml)
if [ "$(cat .venv/.requirements-stamp 2>/dev/null)" != "$want" ]; then
  echo "== installing requirements.txt into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > .venv/.requirements-stamp
fi

# The second reference: the newest transformers 5.x in its own venv, for `pytest -m reference`
# (scripts/test_reference.sh). torch first, alone, so the resolver can only take the CPU wheel. Only the
# tests need it (scripts/test.sh passes --references), so building the book never downloads it.
if [ "${1:-}" = "--references" ]; then
  if [ ! -x .venv-tf5/bin/python ]; then
    echo "== creating .venv-tf5 with $($PYTHON --version)"
    "$PYTHON" -m venv .venv-tf5
  fi
  want=$(stamp requirements-tf5.txt pyproject.toml)
  if [ "$(cat .venv-tf5/.requirements-stamp 2>/dev/null)" != "$want" ]; then
    echo "== installing requirements-tf5.txt into .venv-tf5"
    .venv-tf5/bin/python -m pip install -q --upgrade pip
    .venv-tf5/bin/python -m pip install -q torch==2.13.0
    .venv-tf5/bin/python -m pip install -q -r requirements-tf5.txt
    .venv-tf5/bin/python -m pip install -q --no-deps -e .
    echo "$want" > .venv-tf5/.requirements-stamp
  fi
fi

want=$(stamp package.json package-lock.json)
if [ "$(cat node_modules/.lock-stamp 2>/dev/null)" != "$want" ]; then
  echo "== installing static JS assets (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.lock-stamp
fi

# The book's own static folder. Not a root folder named `_static`: Jupyter Book 1 would then inject
# every file in it into every page.
rm -rf _book_static
mkdir -p _book_static/mathjax/output/chtml/fonts
cp node_modules/@jupyter-widgets/html-manager/dist/embed.js _book_static/
cp node_modules/@jupyter-widgets/html-manager/dist/*.woff2 _book_static/
cp node_modules/mathjax/es5/tex-mml-chtml.js _book_static/mathjax/
cp -r node_modules/mathjax/es5/output/chtml/fonts/woff-v2 _book_static/mathjax/output/chtml/fonts/
# The live widgets' loader and each widget's module as a classic script (qwen_lite/viz/live).
.venv/bin/python -m qwen_lite.viz.live _book_static/widgets > /dev/null
