"""The live widgets' JavaScript, checked against the package in Node.

* Every index module (``qwen_lite/viz/live/<name>.js`` with a Python twin that has ``golden_cases``)
  runs on golden cases computed by the package's own functions; any drift fails.
* Every module bundles (relative imports inlined) into valid ES and classic scripts (``node --check``).
* The checks can fail: a deliberately broken module is caught.

Needs Node (scripts/setup.sh runs ``npm ci``, so CI has it); a missing ``node`` is a failure, never a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from qwen_lite.viz.live import bundle, classic_script, module_names
from qwen_lite.viz.live.golden import golden_cases, golden_modules

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tests" / "js" / "golden.mjs"


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is not installed (scripts/setup.sh needs it for npm ci)"
    return node


def _run_golden(tmp_path: Path, name: str, source: str, cases: list[dict]) -> subprocess.CompletedProcess:
    module = tmp_path / f"{name}.mjs"
    module.write_text(source)
    data = tmp_path / f"{name}.json"
    data.write_text(json.dumps(cases))
    return subprocess.run(
        [_node(), str(RUNNER), str(module), str(data)], capture_output=True, text=True, timeout=120
    )


def test_every_index_module_has_golden_cases():
    assert {"patches", "windows", "rope_index", "rotary", "frames", "cache_steps"} <= set(golden_modules())


@pytest.mark.parametrize("name", golden_modules())
def test_js_module_matches_the_package(tmp_path, name):
    cases = golden_cases(name, n=25, seed=1234)
    result = _run_golden(tmp_path, name, bundle(name), cases)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"checked {len(cases)} cases, 0 failed" in result.stdout


def test_golden_runner_catches_a_wrong_module(tmp_path):
    broken = bundle("patches").replace(
        "(y % patchSize) * patchSize + (x % patchSize)", "(x % patchSize) * patchSize + (y % patchSize)"
    )
    assert broken != bundle("patches")
    result = _run_golden(tmp_path, "patches", broken, golden_cases("patches", n=25, seed=1234))
    assert result.returncode == 1
    assert "FAIL" in result.stdout


@pytest.mark.parametrize("name", [n for n in module_names()])
def test_module_bundles_to_valid_scripts(tmp_path, name):
    es = tmp_path / f"{name}.mjs"
    es.write_text(bundle(name))
    checked = subprocess.run([_node(), "--check", str(es)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    if "export default" in bundle(name):
        classic = tmp_path / f"{name}.cjs"
        classic.write_text(classic_script(name))
        checked = subprocess.run([_node(), "--check", str(classic)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        assert "export " not in classic_script(name).split("\n", 1)[1]
