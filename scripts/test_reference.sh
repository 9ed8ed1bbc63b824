#!/usr/bin/env bash
# The parity tests (pytest -m reference) against the newest transformers 5.x, in .venv-tf5.
# scripts/test.sh runs every test, these included, against the pinned 4.57.6 in .venv; this runs them
# again against 5.x, so each reference's disagreements are caught by the version-differences catalogue
# (book/data/version_differences.json, tests/test_reference_versions.py). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-tf5/bin/python ]; then
  echo ".venv-tf5 is missing: run: bash scripts/setup.sh --references" >&2
  exit 1
fi
echo "== pytest -m reference against transformers $(.venv-tf5/bin/python -c 'import transformers; print(transformers.__version__)') (.venv-tf5)"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} .venv-tf5/bin/python -m pytest -q -p no:cacheprovider -m reference tests "$@"
