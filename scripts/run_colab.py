"""Run the Colab edition as a Colab user would, in a Colab-like kernel (scripts/test_colab.sh).

Each notebook is copied alone into a fresh folder (no repository beside it, like Colab's /content)
and executed by nbclient with this interpreter's kernel, in which a stand-in ``google.colab`` is
already imported at start-up (as in Colab), so the install cell's Colab branch runs. The install
line is pointed at the checkout under test (``--requirement``) instead of the repository URL; that
is the only change made to the notebook. Any error output fails the run, with the chapter, the cell
and the error. The first notebook runs alone (its install cell installs the package); the others
then run ``--jobs`` at a time (their install cells find the package installed).

Needs only nbformat and nbclient (plus ipykernel), not myst-nb or the generator.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in IPython tracebacks
STAND_IN = '''"""Stand-in for Colab's ``google.colab`` package (tests only): the notebooks test for its presence."""
from types import SimpleNamespace

output = SimpleNamespace(enable_custom_widget_manager=lambda: None, disable_custom_widget_manager=lambda: None)
'''
STARTUP = """import sys
sys.path.insert(0, {path!r})
import google.colab  # noqa: F401  (Colab's kernel has it imported before the first cell)
"""


def point_install_at(nb, requirement: str, name: str) -> None:
    """Replace the quoted ``qwen-lite[viz] @ git+...`` requirement of the first code cell's %pip line."""
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    lines = first.source.splitlines(True)
    for i, line in enumerate(lines):
        if line.strip().startswith("%pip install") and '"qwen-lite[viz] @ git+' in line:
            start = line.index('"qwen-lite[viz] @ git+')
            end = line.index('"', start + 1)
            lines[i] = line[:start] + f'"{requirement}"' + line[end + 1 :]
            first.source = "".join(lines)
            return
    raise ValueError(f'{name}: the first code cell has no %pip install "qwen-lite[viz] @ git+..." line')


def run_one(
    path: Path, requirement: str, timeout: int, workroot: Path, env_dir: Path
) -> tuple[str, float, list[str]]:
    nb = nbformat.read(path, as_version=4)
    point_install_at(nb, requirement, path.name)
    content = workroot / path.stem / "content"
    content.mkdir(parents=True)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(content)}},
    )
    client.execute(env=_kernel_env(env_dir))
    seconds = time.perf_counter() - start
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                trace = ANSI.sub("", "\n".join(out["traceback"][-3:]))
                errors.append(f"cell {i}: {out['ename']}: {out['evalue']}\n{trace}")
    nbformat.write(nb, workroot / path.name)  # executed copy, for a look when something failed
    return path.name, seconds, errors


def _kernel_env(env_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["IPYTHONDIR"] = str(env_dir / "ipython")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--requirement", required=True, help='e.g. "qwen-lite[viz] @ file:///path/to/wheel"')
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--keep", type=Path, help="copy the executed notebooks here")
    args = parser.parse_args(argv)

    workroot = Path(tempfile.mkdtemp(prefix="colab-run-"))
    env_dir = workroot / "_colab_env"
    (env_dir / "stand_in" / "google" / "colab").mkdir(parents=True)
    (env_dir / "stand_in" / "google" / "colab" / "__init__.py").write_text(STAND_IN)
    startup = env_dir / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(STARTUP.format(path=str(env_dir / "stand_in")))

    failed = 0
    total = time.perf_counter()

    def report(result):
        nonlocal failed
        name, seconds, errors = result
        print(
            f"{name:<28} {seconds:6.1f} s  {'ok' if not errors else f'{len(errors)} error cell(s)'}",
            flush=True,
        )
        for error in errors:
            print("    " + error.replace("\n", "\n    "), flush=True)
        failed += bool(errors)

    first, rest = args.notebooks[0], args.notebooks[1:]
    report(run_one(first, args.requirement, args.timeout, workroot, env_dir))
    job = partial(
        run_one, requirement=args.requirement, timeout=args.timeout, workroot=workroot, env_dir=env_dir
    )
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(job, rest):
            report(result)
    print(f"{len(args.notebooks)} notebooks in {time.perf_counter() - total:.0f} s, {failed} with errors")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for executed in workroot.glob("*.ipynb"):
            shutil.copy(executed, args.keep / executed.name)
    shutil.rmtree(workroot, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
