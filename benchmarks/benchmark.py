"""qwen_lite against transformers, same random weights: time and peak memory, one command.

    .venv/bin/python benchmarks/benchmark.py            # full run (< 10 min on 2 cores), writes results.json
    .venv/bin/python benchmarks/benchmark.py --quick    # smoke run (~1-2 min), prints only

Two configurations, both float32 on the CPU with 2 threads, under ``torch.inference_mode()``:

* ``mid``: the released vision block (hidden 1280, 16 heads of 80, MLP 3420), 3 blocks of which the
  last attends over the whole image, and a small text decoder (2 layers of 256, real vocabulary).
* ``3b-widths``: the released 3B widths everywhere (vision 1280; text 2048, 16/2 heads, MLP 11008,
  vocabulary 151936, tied embeddings) but only 2 vision blocks (one full) and 2 decoder layers.

Figures (each the median of ``--runs`` timed runs after one warm-up; the two models alternate run by
run, and which goes first alternates too, so drifts in machine load hit both):

* the vision tower alone on 448x448, 896x896 and 1344x1344 images (``mid``);
* a prefill: one 448x448 image (256 visual tokens) plus 64 text tokens, one forward with the cache;
* decode: the cost per generated token over 32 steps with the KV cache, measured inside each
  library's own greedy ``generate`` (end tokens disabled) from the time stamps of tokens 1 and 33;
* peak memory: in a child process that holds *one* model, the peak resident set size (Linux
  ``VmHWM``) above the resident size just before the call, for one cold call of each workload. The
  high-water mark is reset before each call (``/proc/self/clear_refs``) and freed heap is returned
  to the kernel first (``malloc_trim``; the child runs with a fixed ``MALLOC_MMAP_THRESHOLD_`` so
  that large freed blocks really leave), so each figure is the extra memory that workload needs:
  activations, attention scores, the KV cache and allocator overhead (weights excluded, identical).

Ratios are qwen_lite / reference: below 1.0 qwen_lite is faster or leaner. The machine's load
average is recorded: on a shared machine the wall times are noisy, so the CPU-time ratio (process
time, steadier under contention) is stored next to the wall-time ratio.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qwen_lite.config import Qwen25VLConfig, TextConfig, VisionConfig  # noqa: E402
from qwen_lite.model import Qwen25VLForConditionalGeneration  # noqa: E402
from tests.reference import copy_weights_to_reference, hf_model  # noqa: E402

THREADS = 2
TEXT_TOKENS = 64  # text tokens in the prefill, around the image block (markers included)
PREFILL_IMAGE = 448
DECODE_STEPS = 32


# --- configurations -----------------------------------------------------------------------------


def mid_config() -> Qwen25VLConfig:
    text = TextConfig(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, tie_word_embeddings=False)  # fmt: skip
    vision = VisionConfig(depth=3, fullatt_block_indexes=(2,), out_hidden_size=text.hidden_size)
    return Qwen25VLConfig(vision=vision, text=text)


def widths_3b_config() -> Qwen25VLConfig:
    text = TextConfig(num_hidden_layers=2)  # released 3B widths, tied embeddings
    vision = VisionConfig(depth=2, fullatt_block_indexes=(1,), out_hidden_size=text.hidden_size)
    return Qwen25VLConfig(vision=vision, text=text)


CONFIGS = {"mid": mid_config, "3b-widths": widths_3b_config}


def build_pair(name: str):
    """(qwen_lite model, transformers model) with the same random weights, both in eval mode."""
    config = CONFIGS[name]()
    torch.manual_seed(0)
    ours = Qwen25VLForConditionalGeneration(config).eval()
    theirs = hf_model(config)
    copy_weights_to_reference(ours, theirs)
    theirs.generation_config.eos_token_id = None  # never stop early: every run makes the same tokens
    return config, ours, theirs


# --- inputs -------------------------------------------------------------------------------------


def image_inputs(config: Qwen25VLConfig, size: int, seed: int = 0):
    """Random ``pixel_values (n 1176)`` and ``grid_thw (1 3)`` for a ``size`` x ``size`` image."""
    side = size // config.vision.patch_size
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(side * side, config.vision.patch_dim, generator=generator), torch.tensor(
        [[1, side, side]]
    )


def prompt_inputs(config: Qwen25VLConfig, size: int = PREFILL_IMAGE) -> dict:
    """One image block (start, pads, end) inside ``TEXT_TOKENS`` text tokens: ``input_ids (1 l)``."""
    pixel_values, grid = image_inputs(config, size)
    pads = int(grid.prod()) // config.vision.spatial_merge_size**2
    generator = torch.Generator().manual_seed(1)
    before, after = torch.randint(0, 150000, (2, (TEXT_TOKENS - 2) // 2), generator=generator).tolist()
    ids = before + [config.vision_start_token_id] + [config.image_token_id] * pads
    ids += [config.vision_end_token_id] + after
    input_ids = torch.tensor([ids])
    return dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                pixel_values=pixel_values, image_grid_thw=grid)  # fmt: skip


# --- workloads: name -> callable(model, inputs) for each side ----------------------------------


def vision_ours(model, inputs):
    return model.visual(inputs["pixel_values"], inputs["image_grid_thw"])


def vision_theirs(model, inputs):
    return model.model.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])


def prefill_ours(model, inputs):
    return model(**inputs, use_cache=True, logits_to_keep=1).logits


def prefill_theirs(model, inputs):
    return model(**inputs, use_cache=True, logits_to_keep=1).logits


def generate_ours(model, inputs, stamps=None):
    def callback(step, tokens, logits):
        if stamps is not None:
            stamps.append(time.perf_counter())

    return model.generate(**inputs, max_new_tokens=DECODE_STEPS + 1, eos_token_id=[], callback=callback)


class _Stamps:
    """A ``transformers`` streamer that only notes when each new token arrives (the first put is the prompt)."""

    def __init__(self, stamps):
        self.stamps, self.seen_prompt = stamps, False

    def put(self, value):
        if self.seen_prompt and self.stamps is not None:
            self.stamps.append(time.perf_counter())
        self.seen_prompt = True

    def end(self):
        pass


def generate_theirs(model, inputs, stamps=None):
    return model.generate(**inputs, max_new_tokens=DECODE_STEPS + 1, do_sample=False, num_beams=1,
                          min_new_tokens=0, pad_token_id=0, repetition_penalty=1.0,
                          streamer=_Stamps(stamps))  # fmt: skip


WORKLOADS = {
    "vision": (vision_ours, vision_theirs),
    "prefill": (prefill_ours, prefill_theirs),
    "generate": (generate_ours, generate_theirs),
}


# --- timing -------------------------------------------------------------------------------------


def timed(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(ours_fn, theirs_fn, runs: int) -> dict:
    """One warm-up each, then ``runs`` timed runs alternating the two (and who goes first).

    The warm-up outputs are compared too: ``max_abs_diff`` shows both sides computed the same thing.
    """
    diff = (ours_fn() - theirs_fn()).abs().max().item()
    samples = {"qwen_lite": [], "reference": []}
    for r in range(runs):
        order = [("qwen_lite", ours_fn), ("reference", theirs_fn)]
        for side, fn in order if r % 2 == 0 else order[::-1]:
            samples[side].append(timed(fn))
    figure = summarise({side: [w for w, _ in s] for side, s in samples.items()},
                       {side: [c for _, c in s] for side, s in samples.items()})  # fmt: skip
    return {**figure, "max_abs_diff": diff}


def summarise(wall: dict, cpu: dict) -> dict:
    a, b = statistics.median(wall["qwen_lite"]), statistics.median(wall["reference"])
    ca, cb = statistics.median(cpu["qwen_lite"]), statistics.median(cpu["reference"])
    return {"qwen_lite": a, "reference": b, "ratio": a / b, "cpu_ratio": ca / cb,
            "qwen_lite_runs": wall["qwen_lite"], "reference_runs": wall["reference"]}  # fmt: skip


def decode_per_token(ours, theirs, inputs, runs: int) -> tuple[dict, bool]:
    """Seconds per decode step from token time stamps inside each ``generate``; and whether the tokens agree."""
    with torch.inference_mode():
        same = torch.equal(generate_ours(ours, inputs), generate_theirs(theirs, inputs))  # also the warm-up
    samples = {"qwen_lite": [], "reference": []}
    for r in range(runs):
        order = [("qwen_lite", generate_ours, ours), ("reference", generate_theirs, theirs)]
        for side, fn, model in order if r % 2 == 0 else order[::-1]:
            stamps = []
            with torch.inference_mode():
                fn(model, inputs, stamps)
            assert len(stamps) == DECODE_STEPS + 1, (
                f"{side}: {len(stamps)} tokens, expected {DECODE_STEPS + 1}"
            )
            samples[side].append((stamps[-1] - stamps[0]) / DECODE_STEPS)
    return summarise(samples, samples), same


# --- memory (child process) ---------------------------------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_extra_mib(fn) -> float:
    """MiB of resident memory above the pre-call level at the peak of one call of ``fn``."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    with torch.inference_mode():
        fn()
    return (_rss_kib("VmHWM") - before) / 1024


def memory_child(config_name: str, side: str, workloads: list[str], sizes: list[int]) -> None:
    """Child process: build only ``side``'s model (same weights) and print one JSON line of peaks."""
    torch.set_num_threads(THREADS)
    config = CONFIGS[config_name]()
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(config).eval()
    if side == "reference":
        ours, model = model, hf_model(config)
        copy_weights_to_reference(ours, model)
        model.generation_config.eos_token_id = None
        del ours
    pick = 0 if side == "qwen_lite" else 1
    peaks = {}
    for workload in workloads:
        fn = WORKLOADS[workload][pick]
        if workload == "vision":
            for size in sizes:
                pixel_values, grid = image_inputs(config, size)
                inputs = dict(pixel_values=pixel_values, image_grid_thw=grid)
                peaks[f"vision {size}"] = peak_extra_mib(partial(fn, model, inputs))
        else:
            inputs = prompt_inputs(config)
            peaks[workload] = peak_extra_mib(partial(fn, model, inputs))
    print(json.dumps(peaks))


def measure_memory(config_name: str, workloads: list[str], sizes: list[int]) -> dict:
    """{figure: {"qwen_lite": MiB, "reference": MiB, "ratio": ...}} from one child process per side."""
    out = {}
    for side in ("qwen_lite", "reference"):
        cmd = [sys.executable, __file__, "--memory-child", config_name, side, ",".join(workloads),
               ",".join(map(str, sizes))]  # fmt: skip
        # A fixed mmap threshold makes glibc hand every block over 64 KiB straight back to the kernel
        # when it is freed (the default threshold adapts and then keeps freed tensors in the heap), so
        # the resident size follows the live tensors and the peaks repeat run to run to ~0.1 MiB.
        env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "MALLOC_MMAP_THRESHOLD_": "65536"}
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        out[side] = json.loads(result.stdout.strip().splitlines()[-1])
    return {k: {"qwen_lite": out["qwen_lite"][k], "reference": out["reference"][k],
                "ratio": out["qwen_lite"][k] / out["reference"][k]} for k in out["qwen_lite"]}  # fmt: skip


# --- report -------------------------------------------------------------------------------------


def machine_info() -> dict:
    import transformers

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "load_average_start": os.getloadavg()[0], "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "platform": platform.platform()}  # fmt: skip


def print_row(name: str, figure: dict, unit: str, scale: float = 1.0) -> None:
    cpu = f"{figure['cpu_ratio']:>8.2f}" if "cpu_ratio" in figure else f"{'':>8}"
    print(f"{name:<34} {figure['qwen_lite'] * scale:>11.3f} {figure['reference'] * scale:>11.3f} {unit:<4}"
          f" {figure['ratio']:>6.2f} {cpu}", flush=True)  # fmt: skip


def measure_config(name: str, sizes: list[int], runs: int, add) -> dict:
    """Time every figure of one configuration (models built here, freed before the memory children)."""
    config, ours, theirs = build_pair(name)
    v, t = config.vision, config.text
    with torch.inference_mode():
        if name == "mid":
            for size in sizes:
                pixel_values, grid = image_inputs(config, size)
                inputs = dict(pixel_values=pixel_values, image_grid_thw=grid)
                figure = interleaved(
                    partial(vision_ours, ours, inputs), partial(vision_theirs, theirs, inputs), runs
                )
                add(name, f"vision {size}x{size} ({int(grid.prod())} patches)", "time", "s", figure)
        inputs = prompt_inputs(config)
        figure = interleaved(
            partial(prefill_ours, ours, inputs), partial(prefill_theirs, theirs, inputs), runs
        )
        add(name, f"prefill ({inputs['input_ids'].shape[1]} tokens)", "time", "s", figure)
    figure, same = decode_per_token(ours, theirs, inputs, runs)
    add(name, f"decode per token ({DECODE_STEPS} steps)", "time", "ms", figure, scale=1e3, same_tokens=same)
    summary = {
        "vision": {"depth": v.depth, "hidden_size": v.hidden_size, "num_heads": v.num_heads,
                   "intermediate_size": v.intermediate_size, "fullatt_block_indexes": list(v.fullatt_block_indexes)},
        "text": {"hidden_size": t.hidden_size, "num_hidden_layers": t.num_hidden_layers,
                 "num_attention_heads": t.num_attention_heads, "num_key_value_heads": t.num_key_value_heads,
                 "intermediate_size": t.intermediate_size, "vocab_size": t.vocab_size},
        "parameters": sum(p.numel() for p in ours.parameters()),
    }  # fmt: skip
    del ours, theirs
    gc.collect()
    workloads = ["vision", "prefill", "generate"] if name == "mid" else ["prefill", "generate"]
    for figure_name, figure in measure_memory(name, workloads, sizes if name == "mid" else []).items():
        add(name, f"peak memory {figure_name}", "memory", "MiB", figure)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one small size, one run, no results file")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per figure (default 3, quick 1)")
    parser.add_argument(
        "--out", type=Path, default=None, help="results file (default benchmarks/results.json)"
    )
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        name, side, workloads, sizes = args.memory_child
        memory_child(name, side, workloads.split(","), [int(s) for s in sizes.split(",") if s])
        return

    start = time.perf_counter()
    torch.set_num_threads(THREADS)
    runs = args.runs or (1 if args.quick else 3)
    sizes = [448] if args.quick else [448, 896, 1344]
    out = args.out or (None if args.quick else ROOT / "benchmarks" / "results.json")
    results = {"machine": machine_info(), "settings": {"runs": runs, "warmup": 1, "dtype": "float32",
               "vision_sizes": sizes, "text_tokens": TEXT_TOKENS, "prefill_image": PREFILL_IMAGE,
               "decode_steps": DECODE_STEPS, "quick": args.quick}, "configs": {}, "figures": []}  # fmt: skip
    print(f"qwen_lite / transformers {results['machine']['transformers']}, torch {torch.__version__}, "
          f"float32, {THREADS} threads, median of {runs} runs; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'figure':<34} {'qwen_lite':>11} {'reference':>11} {'':<4} {'ratio':>6} {'cpu ratio':>8}")

    def add(config_name, figure_name, kind, unit, figure, scale=1.0, **extra):
        results["figures"].append({"config": config_name, "figure": figure_name, "kind": kind, "unit": unit,
                                   **figure, **extra})  # fmt: skip
        print_row(f"{config_name}: {figure_name}", figure, unit, scale)

    for name in CONFIGS:
        results["configs"][name] = measure_config(name, sizes, runs, add)

    results["machine"]["load_average_end"] = os.getloadavg()[0]
    results["seconds"] = round(time.perf_counter() - start, 1)
    print(f"done in {results['seconds']:.0f} s; load average {os.getloadavg()[0]:.1f}")
    if out is not None:
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
