"""The vision tower alone at the released width, qwen_lite against transformers: same weights, same image.

    .venv/bin/python benchmarks/vision_tower.py                       # 3B tower, bf16 and fp32, 448x448
    .venv/bin/python benchmarks/vision_tower.py --dtype bfloat16 --runs 9
    .venv/bin/python benchmarks/vision_tower.py --profile             # per-op tables (torch.profiler), no file
    .venv-tf5/bin/python benchmarks/vision_tower.py --out /tmp/x.json # against transformers 5.x

Opt-in, never in CI (a few minutes, ~3 GB of memory in float32). The tower is the 3B one
(``qwen25vl_3b().vision``: 32 blocks of width 1280, full attention in blocks 7, 15, 23, 31; the 7B and 72B
towers are the same shape up to the merger's output width), with random weights; ``--blocks`` keeps only
the first blocks, with full attention every eighth (a quicker profile with the same mix).

Both towers live in one process and *share* their weight tensors (``load_state_dict(assign=True)``), so
they read the same memory. The reference is cast the way ``from_pretrained(dtype=...)`` leaves it: weights in
``--dtype``, its rotary ``inv_freq`` buffer kept in float32. Calls alternate (qwen_lite, transformers,
qwen_lite, ...) after one warm-up call each, so a change in the machine's load hits both; the medians of
``--runs`` calls and their ratio are reported, together with ``others_cpu_share``: the share of the
machine's CPU time other processes used while the timed calls ran (``/proc/stat``; 0 is a quiet machine,
and above ~0.1 the times are not worth much). The two outputs are compared bit for bit.

Each call's process CPU time is recorded too: with ``--threads 1`` it is the compute alone, whatever other
processes do (a steadier measure on a shared machine); with more threads it also counts threads that spin
while they wait. Results go to ``benchmarks/vision_tower_results.json`` (``--out``), one entry per
dtype-threads-blocks-size (other entries in the file are kept), with the machine and ``quiet`` (others used
less than 0.1 of the CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from real_size import QUIET, Contention, machine_info  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "vision_tower_results.json"
ABOUT = (
    "benchmarks/vision_tower.py: the 3B vision tower (random weights shared by both libraries) on one image, "
    "qwen_lite and transformers called alternately in one process, on the machine described. Times in "
    "seconds per forward (medians of the timed calls; *_cpu_s: process CPU time, all threads); ratio = "
    "qwen_lite / transformers; others_cpu_share = share of the machine's CPU time other processes used while "
    "the calls ran (0 = quiet; quiet: below 0.1)."
)


def tower_config(blocks: int | None):
    """The 3B vision config; with ``blocks``, only that many blocks, full attention every eighth."""
    from qwen_lite.config import qwen25vl_3b

    config = qwen25vl_3b()
    if blocks is not None:
        config.vision.depth = blocks
        config.vision.fullatt_block_indexes = tuple(i for i in range(blocks) if i % 8 == 7)
    return config


def build(config, dtype: torch.dtype, seed: int = 0):
    """(ours, theirs): the two towers in ``dtype``, the reference's weights the same tensors as ours."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
        Qwen2_5_VisionTransformerPretrainedModel,
    )

    from qwen_lite.vision import VisionTransformer
    from tests.reference import hf_config

    torch.manual_seed(seed)
    ours = VisionTransformer(config.vision).eval().to(dtype)
    with torch.device("meta"):
        theirs = Qwen2_5_VisionTransformerPretrainedModel._from_config(hf_config(config).vision_config)
    theirs.load_state_dict(ours.state_dict(), strict=False, assign=True)
    # Non-persistent buffers (the rotary inv_freq) are not in the state dict: recompute them, float32,
    # as from_pretrained leaves them.
    rotary = theirs.rotary_pos_emb
    dim = config.vision.head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    rotary.register_buffer("inv_freq", inv_freq, persistent=False)
    leftover = [name for name, t in [*theirs.named_parameters(), *theirs.named_buffers()] if t.is_meta]
    if leftover:
        raise RuntimeError(f"reference tensors not loaded: {leftover}")
    return ours, theirs.eval()


def image_inputs(config, size: int, dtype: torch.dtype, seed: int = 1):
    v = config.vision
    side = size // v.patch_size
    torch.manual_seed(seed)
    return torch.randn(side * side, v.patch_dim).to(dtype), torch.tensor([[1, side, side]])


def profile(ours, theirs, pixel_values, grid_thw, rows: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for name, model in (("qwen_lite", ours), ("transformers", theirs)):
        model(pixel_values, grid_thw)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model(pixel_values, grid_thw)
        print(f"===== {name}: one forward")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def measure(ours, theirs, pixel_values, grid_thw, runs: int) -> dict:
    out_ours, out_theirs = ours(pixel_values, grid_thw), theirs(pixel_values, grid_thw)  # warm-up
    identical = torch.equal(out_ours, out_theirs)
    max_diff = (out_ours.float() - out_theirs.float()).abs().max().item()
    times = {"qwen_lite": [], "transformers": []}
    cpu = {"qwen_lite": [], "transformers": []}
    contention = Contention()
    for _ in range(runs):
        for name, model in (("qwen_lite", ours), ("transformers", theirs)):
            began, began_cpu = time.perf_counter(), time.process_time()
            model(pixel_values, grid_thw)
            times[name].append(round(time.perf_counter() - began, 4))
            cpu[name].append(round(time.process_time() - began_cpu, 4))
    a, b = (statistics.median(times[k]) for k in ("qwen_lite", "transformers"))
    cpu_a, cpu_b = (statistics.median(cpu[k]) for k in ("qwen_lite", "transformers"))
    pair_ratios = [x / y for x, y in zip(times["qwen_lite"], times["transformers"], strict=True)]
    share = contention.share()
    return {
        "qwen_lite_s": round(a, 4),
        "transformers_s": round(b, 4),
        "ratio": round(a / b, 3),
        "median_pair_ratio": round(statistics.median(pair_ratios), 3),
        "qwen_lite_cpu_s": round(cpu_a, 4),
        "transformers_cpu_s": round(cpu_b, 4),
        "cpu_ratio": round(cpu_a / cpu_b, 3),
        "others_cpu_share": share,
        "quiet": share is not None and share < QUIET,
        "outputs_identical": identical,
        "max_abs_diff": max_diff,
        "runs": times,
        "cpu_runs": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dtype", nargs="+", choices=["bfloat16", "float32"], default=["bfloat16", "float32"]
    )
    parser.add_argument(
        "--blocks", type=int, default=None, help="keep only the first blocks (default: all 32)"
    )
    parser.add_argument("--size", type=int, default=448, help="square image side in pixels (default 448)")
    parser.add_argument("--runs", type=int, default=7, help="timed calls of each library (default 7)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print per-op profiles instead of timing")
    parser.add_argument("--rows", type=int, default=20, help="rows of each profile table")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    import transformers

    torch.set_num_threads(args.threads)
    config = tower_config(args.blocks)
    v = config.vision
    machine = {**machine_info(args.threads), "transformers": transformers.__version__}
    settings = {
        "blocks": v.depth,
        "full_attention_blocks": list(v.fullatt_block_indexes),
        "hidden": v.hidden_size,
        "image": f"{args.size}x{args.size}",
        "patches": (args.size // v.patch_size) ** 2,
        "runs": args.runs,
        "threads": args.threads,
    }
    results = {}
    for name in args.dtype:
        dtype = getattr(torch, name)
        ours, theirs = build(config, dtype)
        pixel_values, grid_thw = image_inputs(config, args.size, dtype)
        with torch.inference_mode():
            if args.profile:
                profile(ours, theirs, pixel_values, grid_thw, args.rows)
                continue
            figures = measure(ours, theirs, pixel_values, grid_thw, args.runs)
        results[f"{name}-{args.threads}threads-{v.depth}blocks-{args.size}px"] = figures
        print(
            f"{name:>9}: qwen_lite {figures['qwen_lite_s']:.3f} s, transformers {figures['transformers_s']:.3f} s, "
            f"ratio {figures['ratio']:.3f} (pairwise {figures['median_pair_ratio']:.3f}; CPU time "
            f"{figures['cpu_ratio']:.3f}), others used {figures['others_cpu_share']} of the CPUs, "
            f"identical {figures['outputs_identical']}",
            flush=True,
        )
        del ours, theirs
    if results:
        machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        data = json.loads(args.out.read_text()) if args.out.exists() else {}
        runs = {**data.get("runs", {})}
        for key, figures in results.items():
            runs[key] = {"machine": machine, "settings": settings, **figures}
        args.out.write_text(json.dumps({"about": ABOUT, "runs": runs}, indent=1) + "\n")
        print(f"wrote {', '.join(results)} in {args.out}")


if __name__ == "__main__":
    main()
