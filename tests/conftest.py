"""Test-session setup shared by every test module."""

from __future__ import annotations


def pytest_report_header(config):
    """Name the reference in the header: the same tests run against transformers 4.57.6 and 5.x."""
    try:
        import transformers
    except ImportError:
        return "reference: transformers is not installed"
    return f"reference: transformers {transformers.__version__} (tests marked 'reference' compare with it)"
