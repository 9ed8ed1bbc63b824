"""Test-session setup shared by every test module."""

from __future__ import annotations

from pathlib import Path


def pytest_report_header(config):
    """Name the reference in the header: the same tests run against transformers 4.57.6 and 5.x."""
    try:
        import transformers
    except ImportError:
        return "reference: transformers is not installed"
    return f"reference: transformers {transformers.__version__} (tests marked 'reference' compare with it)"


def pytest_ignore_collect(collection_path: Path, config):
    """With ``-m reference`` (scripts/test_reference.sh), skip importing test modules that mark no test so.

    The reference-only venv (.venv-tf5) holds transformers 5.x and the test tools, not the book's toolchain
    that e.g. the notebook tests import; a module without ``pytest.mark.reference`` has nothing to run there.
    """
    if config.getoption("markexpr", "") != "reference":
        return None
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        if "mark.reference" not in collection_path.read_text(encoding="utf-8"):
            return True
    return None
