"""pytest plugin for venvs without ``transformers`` (the minimum-versions job of scripts/test_colab.sh).

Tests that compare with ``transformers`` are marked ``reference`` and deselected there, but some import
it without the mark: at module level, or in a fixture. This plugin reports those as *skipped*, each with
its reason (so the summary names them), instead of as errors. It only does so when the missing module
is ``transformers`` and the import comes from test code: if ``qwen_lite`` itself imported it, the test
still fails, because the package must never need it.

Use: ``PYTHONPATH=scripts python -m pytest -p pytest_without_transformers -rs ...``
"""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qwen_lite"
REASON = "needs transformers (imported by the test, which is not marked reference)"


def _missing_transformers(excinfo) -> bool:
    if excinfo is None or not excinfo.errisinstance(ModuleNotFoundError):
        return False
    if (excinfo.value.name or "").split(".")[0] != "transformers":
        return False
    return not any(Path(str(entry.path)).resolve().is_relative_to(PACKAGE) for entry in excinfo.traceback)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    # A module, or a directory whose conftest.py imports it.
    if report.failed and isinstance(collector, (pytest.Module, pytest.Package, pytest.Dir)):
        text = str(report.longrepr)
        if "No module named 'transformers'" in text and str(PACKAGE) not in text:
            report.outcome = "skipped"
            report.longrepr = (str(collector.path), 0, "Skipped: " + REASON + " at import")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _missing_transformers(call.excinfo):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, "Skipped: " + REASON)
    return report
