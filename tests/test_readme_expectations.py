"""The README stays true: its "what to expect on a CPU" table is generated from the committed results, and its package example runs."""

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


def test_the_readme_package_example_runs(tmp_path, monkeypatch):
    """The README's grounding and fine-tuning example is real code: it runs as printed."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python", readme.index("Reading grounding answers and fine-tuning"))
    code = readme[start + len("```python\n") : readme.index("\n```", start + 3)]
    monkeypatch.chdir(tmp_path)  # it saves tiny-checkpoint/ in the working folder
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["loss"].ndim == 0 and bool(scope["loss"].isfinite())
    assert [box.label for box in scope["boxes"]] == ["face"]
