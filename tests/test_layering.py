"""Dependencies point one way: preprocessing never imports the model, model code never imports viz.

Checked on the source (every ``import`` statement, at module level or inside a function), followed
transitively through qwen_lite's own modules. ``import qwen_lite.x`` at run time would not show it: the
package's ``__init__`` imports everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qwen_lite"
PREPROCESSING = ["processing", "video", "tokenizer", "processor", "files", "grounding"]
MODEL_SIDE = {"model", "vision", "text", "weights", "generation"}
MODEL = ["config", "layers", "vision", "rope", "text", "model", "generation", "weights", "files"]


def module_path(name: str) -> Path:
    path = PACKAGE.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def direct_imports(name: str) -> set[str]:
    """qwen_lite modules (names relative to the package, e.g. "viz.merge") that ``name``'s source imports."""
    found = set()
    for node in ast.walk(ast.parse(module_path(name).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qwen_lite"):
            base = node.module.removeprefix("qwen_lite").lstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                found.add(sub if module_path(sub).exists() else base)
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("qwen_lite.") for a in node.names if a.name.startswith("qwen_lite.")
            }
    return {m for m in found if m}


def imported_by(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for dep in direct_imports(todo.pop()) - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def test_the_walk_sees_real_imports():
    assert "processing" in imported_by("processor")
    assert "model" in imported_by("weights")


@pytest.mark.parametrize("module", PREPROCESSING)
def test_preprocessing_never_imports_the_model(module):
    model_side = imported_by(module) & MODEL_SIDE
    assert not model_side, f"qwen_lite.{module} imports {sorted(model_side)}"


@pytest.mark.parametrize("module", MODEL)
def test_model_code_never_imports_viz(module):
    viz = {m for m in imported_by(module) if m == "viz" or m.startswith("viz.")}
    assert not viz, f"qwen_lite.{module} imports {sorted(viz)}"
