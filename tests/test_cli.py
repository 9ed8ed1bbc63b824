"""``python -m qwen_lite``: describe an image with and without weights; the accounting table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qwen_lite import config as C
from qwen_lite.__main__ import main
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.weights import save_pretrained

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photo() -> str:
    from matplotlib import cbook

    return str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qwen_lite", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_describe_without_weights_traces_shapes(photo):
    result = run_cli("describe", photo)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "RANDOM WEIGHTS" in out and "weights are random" in out
    # 512x600 photo -> smart_resize 504x588 -> 36x42 patches = 1512 rows -> 378 merged tokens.
    assert "pixel_values    (1512, 1176)" in out
    stages = ["patch_embed", "block 1 (full attention)", "merger", "fuse images", "rope index", "lm_head"]
    assert all(stage in out for stage in stages)
    assert "(1, 403, 151936)" in out  # logits: 378 image tokens + 25 prompt tokens


def test_describe_with_tiny_checkpoint(photo, tmp_path):
    torch.manual_seed(0)
    save_pretrained(Qwen25VLForConditionalGeneration(C.tiny()), tmp_path)
    result = run_cli(
        "describe", photo, "--weights", str(tmp_path), "--max-new-tokens", "4", "--prompt", "What?"
    )
    assert result.returncode == 0, result.stderr
    assert "generating: 4/4 tokens" in result.stderr  # the progress counter reached the limit
    assert "RANDOM" not in result.stdout
    assert result.stdout.strip()  # the (random) answer


def test_describe_reports_bad_weights_folder(photo, tmp_path, capsys):
    assert main(["describe", photo, "--weights", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "no config.json" in err and "Traceback" not in err


def test_accounting_command(capsys):
    assert main(["accounting", "--preset", "3B", "--size", "448", "448", "--text-length", "10"]) == 0
    out = capsys.readouterr().out
    assert "1024 patches" in out and "3754.6" in out
    assert main(["accounting", "--preset", "9B"]) == 2
