"""Command line: ``python -m qwen_lite describe IMAGE [--weights FOLDER]`` and ``python -m qwen_lite accounting``.

With ``--weights`` (a local folder with ``config.json`` + ``*.safetensors``, e.g. a download of
Qwen/Qwen2.5-VL-3B-Instruct) ``describe`` builds the chat prompt, runs the processor and generates an
answer, counting tokens on stderr. Without weights it builds a tiny random model, runs the image
through it and prints the shape of every stage: the pipeline is real, the numbers are not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

DEFAULT_PROMPT = "Describe this image."
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return args.command(args)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m qwen_lite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    describe_parser = commands.add_parser(
        "describe", help="describe an image (or trace shapes without weights)"
    )
    describe_parser.add_argument("image", type=Path, help="path of an image file")
    describe_parser.add_argument(
        "--weights", type=Path, help="checkpoint folder (config.json + *.safetensors)"
    )
    describe_parser.add_argument(
        "--prompt", default=DEFAULT_PROMPT, help=f"question (default: {DEFAULT_PROMPT!r})"
    )
    describe_parser.add_argument("--max-new-tokens", type=int, default=128, help="answer length limit")
    describe_parser.add_argument(
        "--dtype", choices=DTYPES, default="float32", help="weights dtype (default float32)"
    )
    describe_parser.set_defaults(command=describe)

    accounting_parser = commands.add_parser("accounting", help="parameters and FLOPs per component")
    accounting_parser.add_argument("--preset", default="7B", help="3B, 7B, 72B, small or tiny (default 7B)")
    accounting_parser.add_argument("--size", type=int, nargs=2, default=(448, 448), metavar=("H", "W"),
                                   help="image height and width in pixels (multiples of 28)")  # fmt: skip
    accounting_parser.add_argument(
        "--text-length", type=int, default=32, help="text tokens besides the image"
    )
    accounting_parser.set_defaults(command=accounting)
    return parser.parse_args(argv)


# --- describe -----------------------------------------------------------------------------------


def describe(args: argparse.Namespace) -> int:
    """Answer ``args.prompt`` about ``args.image``, or trace shapes through a random tiny model."""
    from PIL import Image

    from qwen_lite.processor import Qwen25VLProcessor

    image = Image.open(args.image)
    content = [{"type": "image", "image": image}, {"type": "text", "text": args.prompt}]
    messages = [{"role": "user", "content": content}]
    processor = Qwen25VLProcessor()
    inputs = processor(messages=messages)
    if args.weights is None:
        return trace_random_model(inputs)
    return answer(args, processor, inputs)


def answer(args: argparse.Namespace, processor, inputs: dict) -> int:
    """Load the weights, generate greedily with a token counter on stderr, print the answer."""
    from qwen_lite.weights import CheckpointError, from_pretrained

    print(f"loading {args.weights} ...", file=sys.stderr)
    try:
        model = from_pretrained(args.weights, dtype=DTYPES[args.dtype])
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    eos = end_token_ids(args.weights, model.config)
    prompt_length = inputs["input_ids"].shape[1]
    start = time.perf_counter()

    def progress(step: int, new_tokens: torch.Tensor, logits: torch.Tensor) -> None:
        rate = (step + 1) / (time.perf_counter() - start)
        counter = f"generating: {step + 1}/{args.max_new_tokens} tokens ({rate:.1f} tok/s)"
        print("\r" + counter, end="", file=sys.stderr, flush=True)

    print(f"prompt: {prompt_length} tokens, {int(inputs['image_grid_thw'].prod(-1).sum()) // 4} of them image",
          file=sys.stderr)  # fmt: skip
    ids = model.generate(**inputs, max_new_tokens=args.max_new_tokens, eos_token_id=eos, callback=progress)
    print(file=sys.stderr)
    print(processor.decode(ids[0, prompt_length:], skip_special_tokens=True).strip())
    return 0


def end_token_ids(folder: Path, config) -> list[int]:
    """The end ids of ``generation_config.json`` if the folder has one, else ``<|im_end|>``, ``<|endoftext|>``."""
    path = Path(folder) / "generation_config.json"
    if path.is_file():
        eos = json.loads(path.read_text()).get("eos_token_id")
        if eos is not None:
            return [eos] if isinstance(eos, int) else list(eos)
    return [config.eos_token_id, config.bos_token_id]


def trace_random_model(inputs: dict) -> int:
    """Run the processed prompt through ``config.tiny()`` with random weights; print every stage's shapes."""
    from qwen_lite.config import tiny
    from qwen_lite.model import Qwen25VLForConditionalGeneration
    from qwen_lite.trace import trace_shapes

    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(tiny()).eval()
    print("No --weights given: RANDOM WEIGHTS (qwen_lite.config.tiny()), so no answer, only the shape of")
    print("every stage of the real pipeline for this image and prompt.\n")
    for name, value in inputs.items():
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else value
        print(f"{name:15} {shape}")
    print()
    with torch.no_grad(), trace_shapes() as trace:
        model(**inputs)
    print(trace.table())
    print("\nThe weights are random: pass --weights FOLDER (config.json + *.safetensors) for a real answer.")
    return 0


# --- accounting ---------------------------------------------------------------------------------


def accounting(args: argparse.Namespace) -> int:
    """Print the per-component parameter and FLOP table for one preset and image size."""
    from qwen_lite.accounting import accounting_table, format_table
    from qwen_lite.config import PRESETS

    if args.preset not in PRESETS:
        print(f"unknown preset {args.preset!r}; choose from {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    config = PRESETS[args.preset]()
    height, width = args.size
    if height % 28 or width % 28:
        print(f"--size: height and width must be multiples of 28, got {height} x {width}", file=sys.stderr)
        return 2
    grid = [(1, height // config.vision.patch_size, width // config.vision.patch_size)]
    rows = accounting_table(config, text_length=args.text_length, image_grid_thw=grid)
    patches = grid[0][1] * grid[0][2]
    print(f"{args.preset}: one {height}x{width} image ({patches} patches) + {args.text_length} text tokens")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
