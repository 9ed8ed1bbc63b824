#!/usr/bin/env bash
# Run every test: lint, package tests (parity with transformers), nbval (strict) on every chapter,
# the notebook guard, and the real-browser test of the built site.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --references

# The browser test drives Debian's Chromium; install it when missing and we may (CI runs as root).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: install Debian's 'chromium' package (the browser test needs it)" >&2
    exit 1
  fi
fi

# The Colab, minimum-version and torch-only venvs are only needed at the end: build them in the
# background while the main tests run (their log is shown if that fails).
bash scripts/test_colab.sh venvs > _venvs.log 2>&1 &
venvs_pid=$!
trap 'kill $venvs_pid 2>/dev/null || true' EXIT

echo "== ruff"
.venv/bin/ruff check qwen_lite tests benchmarks scripts book
.venv/bin/ruff format --check qwen_lite tests benchmarks scripts book
echo "== Chinese catalogs (no untranslated or fuzzy message on a translated page)"
.venv/bin/python scripts/i18n.py check

echo "== building the book for the browser test"
bash scripts/build_book.sh > _build.log 2>&1 || { cat _build.log; exit 1; }

echo "== pytest: the package, guards and the browser test (reference: transformers $(.venv/bin/python -c 'import transformers; print(transformers.__version__)'))"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} .venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"

# The chapters were executed with 2 threads (scripts/execute_notebooks.py); verify them with 1, so that
# an output that depends on floating-point round-off (it changes with the thread count) fails here, not
# on a reader's machine.
echo "== nbval: every chapter, strict, at 1 thread (written at 2)"
OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q -p no:cacheprovider \
  --nbval --nbval-current-env --nbval-sanitize-with book/nbval_sanitize.cfg book

# The parity tests again, against the newest transformers 5.x (.venv-tf5, built by scripts/setup.sh --references).
bash scripts/test_reference.sh

# Colab: every Colab notebook in a Colab-like kernel (ipywidgets 7.7.1, transformers 5.x); the package at
# its declared minimum versions; the wheel in a torch-only venv.
wait $venvs_pid || { cat _venvs.log; exit 1; }
bash scripts/test_colab.sh
