#!/usr/bin/env bash
# The Colab and packaging jobs (issue 12). Each job prints its time; the venvs are kept between runs
# (rebuilt when their requirements file changes).
#
#   colab    every Colab notebook (colab/, scripts/make_colab.py) in a Colab-like kernel: .venv-colab from
#            requirements-colab.txt (Python 3.11, ipywidgets 7.7.1, transformers 5.x, no myst-nb or
#            jupyter-book), a stand-in google.colab, the install cell pointed at a wheel of this checkout.
#            No error cell allowed; the install cell must leave torch and ipywidgets alone.
#   minimum  .venv-min from requirements-min.txt (the floors pyproject.toml declares): the package tests
#            that need no transformers (-m "not reference", without the book/site/Colab tests), and a
#            widget smoke test (PIL text drawing, ipywidgets 7, matplotlib).
#   wheel    the wheel of this checkout in a torch-only venv (.venv-wheel): it brings its own
#            dependencies, imports without the [viz] extra, and `python -m qwen_lite describe` runs.
#
# Usage: bash scripts/test_colab.sh [colab] [minimum] [wheel] [venvs]     (no argument: the first three)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
JOBS=("$@")
[ ${#JOBS[@]} -gt 0 ] || JOBS=(colab minimum wheel)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }
pip_quiet() { grep -v -e "is ignored" -e "^$" -e "Skipping qwen-lite as it is not installed" || true; }

# venv DIR REQUIREMENTS: create DIR with exactly REQUIREMENTS (a full freeze) unless it is current.
venv() {
  local dir=$1 req=$2 want
  want=$(stamp "$req")
  if [ "$(cat "$dir/.requirements-stamp" 2>/dev/null)" != "$want" ]; then
    echo "== creating $dir from $req"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --no-deps -r "$req" 2>&1 | pip_quiet
    "$dir/bin/python" -m pip check
    echo "$want" > "$dir/.requirements-stamp"
  fi
}

# A wheel of this checkout (built once; setuptools' build/ folder is removed if this made it).
WHEEL=
wheel() {
  if [ -z "$WHEEL" ]; then
    local had_build=0
    [ -e build ] && had_build=1
    "$PYTHON" -m pip wheel -q --no-deps . -w "$WORK/dist" 2>&1 | pip_quiet
    [ $had_build = 1 ] || rm -rf build
    WHEEL=$(ls "$WORK"/dist/qwen_lite-*.whl)
    "$PYTHON" - "$WHEEL" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
assert top == {"qwen_lite"}, f"the wheel should carry qwen_lite/ only, not {sorted(top - {'qwen_lite'})}"
assert "qwen_lite/viz/__init__.py" in names, "the wheel lacks qwen_lite.viz"
assert "qwen_lite/viz/live/loader.js" in names, "the wheel lacks the live widgets' JavaScript"
EOF
  fi
}

versions() { "$1/bin/python" -c "import torch, ipywidgets; print('torch', torch.__version__, 'ipywidgets', ipywidgets.__version__)"; }

job_colab() {
  venv .venv-colab requirements-colab.txt
  .venv-colab/bin/python - <<'EOF'
import importlib.util
found = [m for m in ("myst_nb", "jupyter_book", "google.colab") if importlib.util.find_spec(m.split(".")[0])]
assert not found, f"a Colab-like kernel has none of these, found {found}"
EOF
  .venv-colab/bin/python -m pip uninstall -q -y qwen-lite 2>&1 | pip_quiet  # left by a previous run
  wheel
  local before after
  before=$(versions .venv-colab)
  echo "== running colab/ in the Colab-like kernel ($before, transformers $(.venv-colab/bin/python -c 'import transformers; print(transformers.__version__)'))"
  PATH="$ROOT/.venv-colab/bin:$PATH" .venv-colab/bin/python scripts/run_colab.py --jobs "${COLAB_JOBS:-2}" \
    --requirement "qwen-lite[viz] @ file://$WHEEL" colab/book/*.ipynb
  after=$(versions .venv-colab)
  [ "$before" = "$after" ] || { echo "the install cell changed the kernel: $before -> $after" >&2; exit 1; }
}

job_minimum() {
  venv .venv-min requirements-min.txt
  # The book's own tests (notebooks, built site, Colab edition, prose and exercise guards, catalogs) need
  # the book toolchain, which is not part of the package's minimum install.
  echo "== package tests at the declared minimum versions"
  PYTHONPATH="$ROOT/scripts" .venv-min/bin/python -m pytest -q -p no:cacheprovider -p pytest_without_transformers \
    -m "not reference" -W ignore::DeprecationWarning \
    --ignore tests/test_notebooks.py --ignore tests/test_colab.py --ignore tests/test_prose_numbers.py \
    --ignore tests/test_exercises_layout.py --ignore-glob 'tests/test_site*' --ignore-glob 'tests/test_live_site_*' \
    --ignore-glob 'tests/test_i18n*' tests
  echo "== widget smoke test at the minimums"
  PYTHONPATH="$ROOT" .venv-min/bin/python - <<'EOF'
import matplotlib

matplotlib.use("Agg")
import ipywidgets
import PIL
import torch

import numpy as np

from qwen_lite.viz import sample_photo
from qwen_lite.viz.grounding import draw_grounding  # noqa: F401 (PIL text drawing, Pillow >= 10.1)
from qwen_lite.viz.live.fps import fps_widget
from qwen_lite.viz.live.kvcache import kv_cache_widget
from qwen_lite.viz.live.merge import merge_widget
from qwen_lite.viz.live.mrope import mrope_widget
from qwen_lite.viz.live.pixels import pixels_widget
from qwen_lite.viz.live.rotary2d import rotary2d_widget
from qwen_lite.viz.live.window_attention import window_attention_widget

photo = sample_photo()
clip = np.zeros((8, 28, 28, 3), dtype=np.uint8)
built = [
    pixels_widget(photo),
    window_attention_widget(photo, width=308, height=196),
    merge_widget(photo, token=3),
    mrope_widget([{"kind": "text", "n": 3}, {"kind": "image", "w": 2, "h": 3}, {"kind": "text", "n": 2}]),
    rotary2d_widget(),
    kv_cache_widget(),
    fps_widget(clip, video_fps=4.0),
]
for widget in built:  # the output a kernel shows (widget view) and the one the site renders (text/html)
    data = widget._repr_mimebundle_()[0]
    assert {"application/vnd.jupyter.widget-view+json", "text/html"} <= set(data), sorted(data)
import anywidget

print(f"{len(built)} live widgets built with anywidget {anywidget.__version__}, Pillow {PIL.__version__}, "
      f"ipywidgets {ipywidgets.__version__}, matplotlib {matplotlib.__version__}, torch {torch.__version__}")
EOF
}

torch_only_venv() {
  local want
  want=$(echo "torch==2.13.0" | sha256sum | cut -c1-16)
  if [ "$(cat .venv-wheel/.requirements-stamp 2>/dev/null)" != "$want" ]; then
    echo "== creating .venv-wheel (torch only)"
    rm -rf .venv-wheel
    "$PYTHON" -m venv .venv-wheel
    .venv-wheel/bin/python -m pip install -q torch==2.13.0 2>&1 | pip_quiet
    echo "$want" > .venv-wheel/.requirements-stamp
  fi
}

# Only build the three venvs (scripts/test.sh starts this in the background, so that the downloads and
# installs overlap with the main test run instead of adding to it).
job_venvs() {
  venv .venv-colab requirements-colab.txt
  venv .venv-min requirements-min.txt
  torch_only_venv
}

job_wheel() {
  wheel
  torch_only_venv
  .venv-wheel/bin/python -m pip uninstall -q -y qwen-lite 2>&1 | pip_quiet
  echo "== installing $(basename "$WHEEL") into the torch-only venv"
  .venv-wheel/bin/python -m pip install -q "$WHEEL" 2>&1 | pip_quiet
  .venv-wheel/bin/python -m pip check
  # Run from outside the checkout, so that only the installed wheel can be imported.
  (cd "$WORK" && "$ROOT/.venv-wheel/bin/python" - <<'EOF'
import importlib.util

import qwen_lite
from PIL import Image

assert "site-packages" in qwen_lite.__file__, qwen_lite.__file__
assert importlib.util.find_spec("matplotlib") is None, "the base install must not need the [viz] extra"
Image.new("RGB", (320, 240), (200, 120, 40)).save("photo.png")
print("imported", qwen_lite.__file__)
EOF
  "$ROOT/.venv-wheel/bin/python" -m qwen_lite describe photo.png --max-new-tokens 4 > describe.txt
  cat describe.txt
  grep -q "^merger " describe.txt || { echo "describe printed no stage shapes" >&2; exit 1; })
}

for job in "${JOBS[@]}"; do
  start=$SECONDS
  echo "=== job $job"
  case $job in
    colab) job_colab ;;
    minimum) job_minimum ;;
    wheel) job_wheel ;;
    venvs) job_venvs ;;
    *) echo "unknown job $job (colab, minimum, wheel, venvs)" >&2; exit 2 ;;
  esac
  echo "=== job $job: passed in $((SECONDS - start)) s"
done
