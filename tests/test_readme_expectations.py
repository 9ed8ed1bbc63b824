"""The README's "what to expect on a CPU" table is generated from the committed real-size results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _expectations():
    spec = importlib.util.spec_from_file_location("expectations", ROOT / "benchmarks" / "expectations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_equals_the_committed_results():
    module = _expectations()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- expectations:start -->\n", "<!-- expectations:end -->"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == module.table(json.loads(module.RESULTS.read_text())), "run benchmarks/expectations.py"


def test_the_table_changes_when_the_results_do():
    module = _expectations()
    results = json.loads(module.RESULTS.read_text())
    before = module.table(results)
    name = sorted(results["runs"])[0]
    results["runs"][name]["qwen_lite"]["decode_s_per_token"] += 1.0
    assert module.table(results) != before
