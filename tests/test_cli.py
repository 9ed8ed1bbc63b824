"""``python -m qwen_lite``: describe an image with and without weights; the accounting table."""

from __future__ import annotations

import io
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


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    save_pretrained(Qwen25VLForConditionalGeneration(C.tiny()), folder)
    return folder


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
    # stderr is a pipe, not a terminal: one plain summary line, no "\r" counter squeezed onto one line.
    assert "\ngenerated: 4/4 tokens (" in result.stderr and "\r" not in result.stderr
    assert "RANDOM" not in result.stdout
    assert result.stdout.strip()  # the (random) answer


def test_describe_reports_bad_weights_folder(photo, tmp_path, capsys):
    assert main(["describe", photo, "--weights", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "no config.json" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def bad_images(tmp_path_factory, photo) -> dict[str, tuple[Path, str]]:
    """Each kind of bad IMAGE with the words its error line must hold."""
    tmp = tmp_path_factory.mktemp("bad_images")
    (tmp / "notes.txt").write_text("not an image\n")
    (tmp / "cut.jpg").write_bytes(Path(photo).read_bytes()[:2000])  # a JPEG cut off after 2000 bytes
    (tmp / "folder.png").mkdir()
    return {
        "missing": (tmp / "missing.png", "does not exist"),
        "not an image": (tmp / "notes.txt", "is not an image PIL can read"),
        "truncated": (tmp / "cut.jpg", "is a broken JPEG file"),
        "a folder": (tmp / "folder.png", "is a folder"),
    }


@pytest.mark.parametrize("kind", ["missing", "not an image", "truncated", "a folder"])
@pytest.mark.parametrize("with_weights", [False, True], ids=["trace", "weights"])
def test_describe_reports_a_bad_image_in_one_line(bad_images, kind, with_weights, tmp_path, capsys):
    path, words = bad_images[kind]
    weights = ["--weights", str(tmp_path)] if with_weights else []  # the image is checked first
    assert main(["describe", str(path), *weights]) == 1  # the exit code of a bad --weights folder
    err = capsys.readouterr().err
    assert err == f"error: IMAGE: {path} {words}; expected an image file (PNG, JPEG, WebP, ...)\n" or (
        kind == "truncated" and err.startswith(f"error: IMAGE: {path} {words} (") and err.count("\n") == 1
    ), err


def test_describe_bad_image_from_the_shell(bad_images):
    result = run_cli("describe", str(bad_images["missing"][0]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: IMAGE: {bad_images['missing'][0]} does not exist; expected an image file (PNG, JPEG, WebP, ...)"  # fmt: skip


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_live_counter_on_a_terminal_and_one_line_otherwise(photo, tiny_checkpoint, capsys, monkeypatch):  # fmt: skip
    args = [
        "describe",
        photo,
        "--weights",
        str(tiny_checkpoint),
        "--max-new-tokens",
        "3",
        "--dtype",
        "float32",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "generating:" not in err
    lines = [line for line in err.splitlines() if line.startswith("generat")]
    assert len(lines) == 1 and lines[0].startswith("generated: 3/3 tokens (") and lines[0].endswith(" tok/s)")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(args) == 0
    err = terminal.getvalue()
    assert [f"\rgenerating: {i}/3 tokens (" in err for i in (1, 2, 3)] == [True] * 3
    assert "generated:" not in err and err.endswith(" tok/s)\n")  # the counter's line is ended once


def test_accounting_command(capsys):
    assert main(["accounting", "--preset", "3B", "--size", "448", "448", "--text-length", "10"]) == 0
    out = capsys.readouterr().out
    assert "1024 patches" in out and "3754.6" in out
    assert main(["accounting", "--preset", "9B"]) == 2


# --- the folder is honoured whole -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def penalised_folder(tmp_path_factory):
    """Handed case pipeline_fidelity/06: a tiny checkpoint whose lm_head makes "\\n" (a prompt token) beat
    the greedy first token B by 1%, with the released generation_config.json (repetition_penalty 1.05,
    do_sample, top_k 1...). transformers answers B; a CLI that ignores the file loops on "\\n"."""
    import json

    import numpy as np
    from PIL import Image

    from qwen_lite.processor import Qwen25VLProcessor

    tmp = tmp_path_factory.mktemp("cli_rp")
    folder, image_path = tmp / "ckpt_rp", tmp / "rp56.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (56, 56, 3), dtype=np.uint8)).save(image_path)
    torch.manual_seed(3)
    model = Qwen25VLForConditionalGeneration(C.tiny()).eval()
    content = [
        {"type": "image", "image": Image.open(image_path)},
        {"type": "text", "text": "Describe this image."},
    ]
    inputs = Qwen25VLProcessor()(messages=[{"role": "user", "content": content}])
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
        first = int(logits.argmax())
        assert logits[first] > 0
        model.lm_head.weight[198] = 1.01 * model.lm_head.weight[first]
    save_pretrained(model, folder)
    released = {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
                "repetition_penalty": 1.05, "temperature": 0.1, "top_p": 0.001, "top_k": 1}  # fmt: skip
    (folder / "generation_config.json").write_text(json.dumps(released))
    return folder, image_path, inputs, first


def test_describe_honours_generation_config_json_like_transformers(penalised_folder):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from qwen_lite.tokenizer import get_tokenizer
    from tests.reference import reference_generate

    folder, image_path, inputs, first = penalised_folder
    result = run_cli("describe", str(image_path), "--weights", str(folder), "--max-new-tokens", "5")
    assert result.returncode == 0, result.stderr
    answer = result.stdout.strip()
    assert answer.startswith(get_tokenizer().decode([first]).strip()) and answer
    theirs = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, attn_implementation="sdpa").eval()
    ids = reference_generate(theirs, **inputs, max_new_tokens=5)  # 5.x: with its mm_token_type_ids
    want = get_tokenizer().decode(ids[0, inputs["input_ids"].shape[1] :].tolist(), skip_special_tokens=True)
    assert answer == want.strip()  # the whole answer is transformers' answer on the same folder


def test_describe_takes_max_new_tokens_from_the_folder(penalised_folder, tmp_path):
    import json

    folder, image_path, *_ = penalised_folder
    for path in folder.iterdir():
        if path.name != "generation_config.json":
            (tmp_path / path.name).symlink_to(path)
    config = json.loads((folder / "generation_config.json").read_text())
    (tmp_path / "generation_config.json").write_text(
        json.dumps({**config, "max_new_tokens": 3, "eos_token_id": []})
    )
    result = run_cli("describe", str(image_path), "--weights", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "generated: 3/3 tokens" in result.stderr and "generated: 4/" not in result.stderr


def test_describe_takes_preprocessing_from_preprocessor_config_json(penalised_folder, photo, tmp_path):
    from PIL import Image

    from qwen_lite.processor import Qwen25VLProcessor

    folder, *_ = penalised_folder
    for path in folder.iterdir():
        (tmp_path / path.name).symlink_to(path)
    small = Qwen25VLProcessor(max_pixels=100_000)
    small.save_pretrained(tmp_path)
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": Image.open(photo)}, {"type": "text", "text": "Hi"}],
        }
    ]
    image_tokens = int(small(messages=messages)["image_grid_thw"].prod(-1).sum()) // 4
    default_tokens = int(Qwen25VLProcessor()(messages=messages)["image_grid_thw"].prod(-1).sum()) // 4
    assert image_tokens < default_tokens  # 100k pixels instead of the default budget
    result = run_cli("describe", photo, "--weights", str(tmp_path), "--max-new-tokens", "1", "--prompt", "Hi")
    assert result.returncode == 0, result.stderr
    assert f"{image_tokens} of them image" in result.stderr


def test_describe_reports_a_broken_generation_config(penalised_folder, photo, tmp_path, capsys):
    folder, *_ = penalised_folder
    for path in folder.iterdir():
        if path.name != "generation_config.json":
            (tmp_path / path.name).symlink_to(path)
    (tmp_path / "generation_config.json").write_text('{"top_k": "one"}')
    assert main(["describe", photo, "--weights", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        "error: " in err and "generation_config.json: top_k must be an int" in err and "Traceback" not in err
    )
    with pytest.raises(SystemExit):
        main(["describe", photo, "--weights", str(tmp_path), "--max-new-tokens", "0"])
    assert "expected an int >= 1, got 0" in capsys.readouterr().err


# --- the dtype and the memory check (issue 16) ------------------------------------------------------------


@pytest.fixture(scope="module")
def bf16_checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bf16")
    torch.manual_seed(0)
    save_pretrained(Qwen25VLForConditionalGeneration(C.tiny()).to(torch.bfloat16), folder)
    return folder


def test_dtype_defaults_to_the_checkpoints(photo, bf16_checkpoint, capsys):
    from qwen_lite.__main__ import parse_args

    assert parse_args(["describe", photo]).dtype == "auto"
    args = ["describe", photo, "--weights", str(bf16_checkpoint), "--max-new-tokens", "2"]
    assert main(args) == 0
    assert "weights in bfloat16 (the checkpoint's dtype)" in capsys.readouterr().err
    assert main([*args, "--dtype", "float32"]) == 0
    assert "weights in float32 (--dtype)" in capsys.readouterr().err


def test_dtype_choices_and_help(capsys):
    with pytest.raises(SystemExit):
        main(["describe", "x.png", "--dtype", "float64"])
    assert "invalid choice: 'float64'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["describe", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default auto: the checkpoint's own" in help_text and "float32 doubles it" in help_text


def test_describe_refuses_a_load_that_cannot_fit(photo, bf16_checkpoint, capsys, monkeypatch):
    from qwen_lite import weights

    monkeypatch.setattr(weights, "available_memory", lambda: (10_000_000, "faked"))
    args = ["describe", photo, "--weights", str(bf16_checkpoint), "--max-new-tokens", "1"]
    assert main([*args, "--dtype", "float32"]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "Traceback" not in err
    assert "only 0.01 GB is available (faked)" in err and "needs about 0.12 GB" in err  # 79 MB + 40 MB mapped
    assert "--dtype bfloat16" in err and "--no-memory-check" in err
    assert main([*args, "--dtype", "float32", "--no-memory-check"]) == 0
