"""Time qwen_lite's vision tower against the transformers one (SDPA), same weights, float32, CPU.

    python benchmarks/bench_vision.py [--blocks 4] [--runs 5] [--sizes 448 896 1344] [--threads 2]

Mid-size tower: the released block shape (hidden 1280, 16 heads of 80, MLP 3420) but only a few
blocks, one of them full attention. Runs alternate between the two models so that drifts in machine
load hit both; the median of ``--runs`` timed runs after one warm-up is reported, as wall time and
as the ratio of process CPU time (steadier when other jobs share the machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference import hf_config  # noqa: E402

from qwen_lite.config import Qwen25VLConfig, VisionConfig, qwen25vl_3b  # noqa: E402
from qwen_lite.vision import VisionTransformer  # noqa: E402


def mid_config(blocks: int) -> Qwen25VLConfig:
    text = qwen25vl_3b().text
    vision = VisionConfig(depth=blocks, fullatt_block_indexes=(blocks - 1,), out_hidden_size=text.hidden_size)
    return Qwen25VLConfig(vision=vision, text=text)


def build(blocks: int):
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    config = mid_config(blocks)
    torch.manual_seed(0)
    ours = VisionTransformer(config.vision).eval()
    theirs = Qwen2_5_VisionTransformerPretrainedModel._from_config(hf_config(config).vision_config).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return config, ours, theirs


def time_once(model, pixel_values, grid_thw) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU time is steadier."""
    wall, cpu = time.perf_counter(), time.process_time()
    model(pixel_values, grid_thw)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[448, 896, 1344])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config, ours, theirs = build(args.blocks)
    v = config.vision
    print(
        f"vision tower: {v.depth} blocks (full attention: {list(v.fullatt_block_indexes)}), hidden {v.hidden_size}, "
        f"{v.num_heads} heads x {v.head_dim}; float32, {args.threads} threads, median of {args.runs} runs"
    )
    print(
        f"{'image':>11} {'patches':>8} {'qwen_lite s':>12} {'reference s':>12} {'ratio':>7} {'cpu ratio':>9}"
        f" {'max |diff|':>11}"
    )
    for size in args.sizes:
        side = size // v.patch_size
        grid_thw = torch.tensor([[1, side, side]])
        pixel_values = torch.randn(side * side, v.patch_dim)
        with torch.inference_mode():
            # Warm-up, and a check that both compute the same thing.
            diff = (ours(pixel_values, grid_thw) - theirs(pixel_values, grid_thw)).abs().max().item()
            ours_s, theirs_s = [], []
            for _ in range(args.runs):
                ours_s.append(time_once(ours, pixel_values, grid_thw))
                theirs_s.append(time_once(theirs, pixel_values, grid_thw))
        a, b = (statistics.median(wall for wall, _ in runs) for runs in (ours_s, theirs_s))
        cpu_a, cpu_b = (statistics.median(cpu for _, cpu in runs) for runs in (ours_s, theirs_s))
        print(
            f"{size:>5}x{size:<5} {side * side:>8} {a:>12.3f} {b:>12.3f} {a / b:>7.3f}"
            f" {cpu_a / cpu_b:>9.3f} {diff:>11.2e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
