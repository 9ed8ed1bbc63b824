"""Golden cases for the live widgets' JavaScript index maths, computed by the package itself.

Each index module ``<name>.js`` has a Python twin ``qwen_lite/viz/live/<name>.py`` with a function
``golden_cases(rng, n) -> list[dict]``. A case is ``{"fn": <JS export>, "args": [...], "expected":
...}``, with ``"label"`` naming it and, for floats, ``"atol"``. Expected values come from the
package's own functions (``patchify``, ``get_window_index``, ``get_rope_index`` ...), never from a
second implementation. ``tests/js/golden.mjs`` imports the module and runs the cases;
``tests/test_live_js.py`` drives it. ``python -m qwen_lite.viz.live.golden NAME`` prints the JSON.
"""

from __future__ import annotations

import importlib
import json
import random
import sys

from . import module_names


def golden_modules() -> list[str]:
    """The JS modules that have golden cases (a Python twin with ``golden_cases``)."""
    names = []
    for name in module_names():
        try:
            twin = importlib.import_module(f"{__package__}.{name}")
        except ImportError:
            continue
        if hasattr(twin, "golden_cases"):
            names.append(name)
    return names


def golden_cases(name: str, n: int = 20, seed: int = 0) -> list[dict]:
    """At least ``n`` random cases (plus the module's fixed edge cases) for ``name``.js, seeded."""
    if name not in golden_modules():
        raise ValueError(
            f"name: expected a module with golden cases, one of {golden_modules()}, got {name!r}"
        )
    twin = importlib.import_module(f"{__package__}.{name}")
    cases = twin.golden_cases(random.Random(seed), n)
    if len(cases) < n:
        raise AssertionError(f"{name}.golden_cases returned {len(cases)} cases, fewer than the {n} asked for")
    return cases


if __name__ == "__main__":
    print(json.dumps(golden_cases(sys.argv[1]), indent=1))
