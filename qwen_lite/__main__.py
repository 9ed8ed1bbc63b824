"""Command line: ``python -m qwen_lite describe IMAGE [--weights FOLDER]`` and ``python -m qwen_lite accounting``.

With ``--weights`` (a local folder with ``config.json`` + ``model.safetensors`` or sharded weights, e.g.
a download of Qwen/Qwen2.5-VL-3B-Instruct) ``describe`` builds the chat prompt, runs the processor and
generates an answer, counting tokens on stderr. The folder is honoured whole, as transformers honours it:
``generation_config.json`` (end ids, pad id, sampling settings, repetition penalty) through the loaded
model's ``generation_config``, and ``preprocessor_config.json`` (pixel budgets, patch sizes, mean/std)
through ``Qwen25VLProcessor.from_pretrained``. Without weights it builds a tiny random model, runs the
image through it and prints the shape of every stage: the pipeline is real, the numbers are not.

What a laptop needs (approximate; the measured figures and the machine they come from are in
``benchmarks/real_size_results.json``): the weights load in the checkpoint's own dtype by default
(``--dtype auto``), bfloat16 for the released models, as memory-mapped views of the files. The 3B then
holds about 7.5 GB of weights and peaks at about 8 GB while it answers about one image; the 7B about
16 GB. ``--dtype float32`` doubles both (the 3B no longer fits a 16 GB laptop). Before loading, the
memory the weights need is compared with the memory available, and a load that cannot fit is refused
with both figures (``--no-memory-check`` skips that).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

DEFAULT_PROMPT = "Describe this image."
DEFAULT_MAX_NEW_TOKENS = 128
#: --dtype choices: "auto" is the checkpoint's own dtype (config.json), as transformers 5.x.
DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_HELP = (
    "weights dtype (default auto: the checkpoint's own, bfloat16 for the released models). Memory, "
    "roughly: 3B in bfloat16 about 7.5 GB of weights, about 8 GB at peak; 7B in bfloat16 about 16 GB; "
    "float32 doubles it"
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return args.command(args)


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {value}")
    return value


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
    describe_parser.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=None,
        help=f"answer length limit (default: the folder's generation_config.json, else {DEFAULT_MAX_NEW_TOKENS})",
    )
    describe_parser.add_argument("--dtype", choices=DTYPES, default="auto", help=DTYPE_HELP)
    describe_parser.add_argument(
        "--no-memory-check",
        dest="check_memory",
        action="store_false",
        help="load even if the weights need more memory than is available (the system may swap or kill it)",
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
    """Answer ``args.prompt`` about ``args.image``, or trace shapes through a random tiny model.

    Returns 0, or 1 after one ``error: ...`` line on stderr for a bad IMAGE or a bad ``--weights`` folder.
    """
    from qwen_lite.processor import Qwen25VLProcessor

    try:
        image = open_image(args.image)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    content = [{"type": "image", "image": image}, {"type": "text", "text": args.prompt}]
    messages = [{"role": "user", "content": content}]
    if args.weights is None:
        return trace_random_model(Qwen25VLProcessor()(messages=messages))
    return answer(args, messages)


def open_image(path: Path):
    """The image file at ``path``, decoded (``PIL.Image.open`` + ``load``), or a ``ValueError`` saying why not.

    The message names the path and what was expected: a missing path, a folder, a file PIL cannot identify
    (not an image, or a format it does not know) and a file it cannot decode (truncated, corrupt) each get
    their own sentence instead of PIL's ``FileNotFoundError`` / ``UnidentifiedImageError`` traceback.
    """
    from PIL import Image, UnidentifiedImageError

    expected = "expected an image file (PNG, JPEG, WebP, ...)"
    if not path.exists():
        raise ValueError(f"IMAGE: {path} does not exist; {expected}")
    if path.is_dir():
        raise ValueError(f"IMAGE: {path} is a folder; {expected}")
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise ValueError(f"IMAGE: {path} is not an image PIL can read; {expected}") from None
    except OSError as error:
        raise ValueError(f"IMAGE: {path} cannot be read ({error}); {expected}") from None
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:  # PIL raises all three for broken data
        raise ValueError(f"IMAGE: {path} is a broken {image.format} file ({error}); {expected}") from None
    return image


def load_folder(folder: Path, dtype: torch.dtype | str = "auto", check_memory: bool = True):
    """(model, processor) from one checkpoint folder: weights + ``generation_config.json``, and preprocessing.

    The weights as :func:`qwen_lite.weights.from_pretrained` loads them: ``dtype="auto"`` is the checkpoint's
    own; ``check_memory`` refuses a load that cannot fit (``NotEnoughMemoryError``, a ``ValueError``). The
    processor is ``Qwen25VLProcessor.from_pretrained(folder)``: the folder's ``preprocessor_config.json``
    (and ``video_preprocessor_config.json``), or the released defaults with a warning naming the missing file.
    """
    from qwen_lite.processor import Qwen25VLProcessor
    from qwen_lite.weights import from_pretrained

    model = from_pretrained(folder, dtype=dtype, check_memory=check_memory)
    return model, Qwen25VLProcessor.from_pretrained(folder)


def answer(args: argparse.Namespace, messages: list) -> int:
    """Load the folder, generate with its generation config (a token counter on stderr), print the answer."""
    print(f"loading {args.weights} ...", file=sys.stderr)
    try:
        model, processor = load_folder(args.weights, DTYPES[args.dtype], check_memory=args.check_memory)
        inputs = processor(messages=messages)
    # CheckpointError, NotEnoughMemoryError included, is a ValueError.
    except (ValueError, TypeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, MemoryError):  # NotEnoughMemoryError: the same ways out, as options
            print("(options: --dtype bfloat16, or --no-memory-check to try anyway)", file=sys.stderr)
        return 1
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    why = "the checkpoint's dtype" if args.dtype == "auto" else "--dtype"
    print(f"weights in {dtype} ({why})", file=sys.stderr)
    new_tokens = args.max_new_tokens
    if new_tokens is None:
        new_tokens = model.generation_config.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    prompt_length = inputs["input_ids"].shape[1]
    start = time.perf_counter()
    # A terminal gets a counter rewritten in place ("\r"); a pipe or a log file gets one summary line at
    # the end instead (with "\r" it would hold every update on one huge line).
    live = sys.stderr.isatty()
    done = [0]

    def rate() -> float:
        return done[0] / max(time.perf_counter() - start, 1e-9)

    def progress(step: int, new: torch.Tensor, logits: torch.Tensor) -> None:
        done[0] = step + 1
        if live:
            counter = f"generating: {step + 1}/{new_tokens} tokens ({rate():.1f} tok/s)"
            print("\r" + counter, end="", file=sys.stderr, flush=True)

    print(f"prompt: {prompt_length} tokens, {int(inputs['image_grid_thw'].prod(-1).sum()) // 4} of them image",
          file=sys.stderr)  # fmt: skip
    # End ids, pad id, sampling and repetition penalty: model.generation_config (the folder's file).
    try:
        ids = model.generate(**inputs, max_new_tokens=new_tokens, callback=progress)
    except (ValueError, TypeError) as error:
        print(("\n" if live and done[0] else "") + f"error: {error}", file=sys.stderr)
        return 1
    if live:
        print(file=sys.stderr)
    else:
        print(f"generated: {done[0]}/{new_tokens} tokens ({rate():.1f} tok/s)", file=sys.stderr)
    print(processor.decode(ids[0, prompt_length:], skip_special_tokens=True).strip())
    return 0


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
