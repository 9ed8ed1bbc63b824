"""One decode step of the 3B language model, qwen_lite against transformers: same weights, same cache length.

    .venv/bin/python benchmarks/decode_step.py                          # fp32, 36 layers (~12.5 GB), 2 threads
    .venv/bin/python benchmarks/decode_step.py --layers 8 --dtype bfloat16
    .venv/bin/python benchmarks/decode_step.py --layers 4 --profile     # per-op tables (torch.profiler)

Opt-in, never in CI. The text model has the 3B shapes (``qwen25vl_3b().text``: width 2048, 16 query heads and
2 key/value heads of 128, MLP 11008, tied 151,936-token embedding) with ``--layers`` of its 36 layers and
random weights (normal(0, 0.02), norms 1), made directly in ``--dtype``; the vision tower is cut to one
block (a text-only prompt never runs it). Both models *share* the weight tensors (``load_state_dict(
assign=True)``), so a step of either reads the same memory, as a user's process would.

Both prefill the same ``--prompt`` random token ids, each into its own cache (qwen_lite's ``KVCache``,
transformers' ``DynamicCache``); then ``--steps`` decode steps alternate between the two libraries, each
feeding the same greedy token, so both caches grow in lock-step and every step is timed against an
equally long one. Reported: the median seconds per step of each (wall, and process CPU time: with
``--threads 1`` the compute alone, steadier on a shared machine), their ratio and the median of the
step-by-step ratios, ``others_cpu_share`` (the share of the CPU time other processes used meanwhile;
above ~0.1 the times are noise) and whether every step's logits were bit-identical.

Decode is weight-bound: one step reads every weight once (about 0.31 GB a layer in float32), so the time a
layer takes is what matters; fewer layers give the per-layer picture with less memory. Results go to
``benchmarks/decode_step_results.json`` (``--out``), one entry per dtype-layers.
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

DEFAULT_OUT = ROOT / "benchmarks" / "decode_step_results.json"
ABOUT = (
    "benchmarks/decode_step.py: decode steps of the 3B language model (random weights shared by both "
    "libraries, --layers of its 36 layers), qwen_lite and transformers alternating step by step in one "
    "process, on the machine described. Times in seconds per step (medians); ratio = qwen_lite / "
    "transformers; others_cpu_share = share of the CPU time other processes used meanwhile (0 = quiet)."
)


def text_config(layers: int):
    from qwen_lite.config import qwen25vl_3b

    config = qwen25vl_3b()
    config.text.num_hidden_layers = layers
    config.vision.depth, config.vision.fullatt_block_indexes = 1, (0,)
    return config


def build(config, dtype: torch.dtype, seed: int = 0):
    """(ours, theirs) in eval mode, the reference's parameters the same tensors as ours."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    from qwen_lite.model import Qwen25VLForConditionalGeneration
    from tests.reference import hf_config, hf_key

    with torch.device("meta"):
        ours = Qwen25VLForConditionalGeneration(config)
        theirs = Qwen2_5_VLForConditionalGeneration(hf_config(config))
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, p in ours.named_parameters():  # tied lm_head: listed once, as the embedding
        if "norm" in name or ".ln_q." in name:
            state[name] = torch.ones(p.shape, dtype=dtype)
        elif name.endswith(".bias"):
            state[name] = torch.zeros(p.shape, dtype=dtype)
        else:
            state[name] = torch.empty(p.shape, dtype=dtype).normal_(0.0, 0.02, generator=generator)
    ours.load_state_dict(state, strict=False, assign=True)
    theirs.load_state_dict({hf_key(k): v for k, v in state.items()}, strict=False, assign=True)
    if config.text.tie_word_embeddings:
        ours.lm_head.weight = ours.model.embed_tokens.weight
        theirs.lm_head.weight = theirs.model.language_model.embed_tokens.weight
    # Non-persistent buffers (rotary inv_freq) are not in a state dict: build them as from_pretrained does.
    for module in theirs.modules():
        inv_freq = getattr(module, "inv_freq", None)
        if inv_freq is None or not inv_freq.is_meta:
            continue
        if hasattr(module, "rope_init_fn"):
            inv_freq, _ = module.rope_init_fn(module.config, "cpu")
            module.original_inv_freq = inv_freq
        else:  # the vision rotary
            dim = config.vision.head_dim // 2
            inv_freq = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
        module.register_buffer("inv_freq", inv_freq, persistent=False)
    for model in (ours, theirs):
        meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if meta:
            raise RuntimeError(f"{type(model).__name__}: tensors not loaded: {meta}")
    return ours.eval(), theirs.eval()


class Pair:
    """Both models after the same prefill; :meth:`step` runs one decode step of one of them."""

    def __init__(self, ours, theirs, prompt: int, seed: int = 1):
        from transformers import DynamicCache

        from qwen_lite.text import KVCache

        self.ours, self.theirs = ours, theirs
        torch.manual_seed(seed)
        ids = torch.randint(0, 150_000, (1, prompt))
        self.cache, self.ref_cache = KVCache(), DynamicCache()
        out = ours(ids, past_key_values=self.cache, logits_to_keep=1)
        ref = theirs(ids, past_key_values=self.ref_cache, use_cache=True, logits_to_keep=1)
        self.identical = torch.equal(out.logits, ref.logits)
        self.rope_deltas, self.length = out.rope_deltas, prompt
        self.token = out.logits[:, -1].argmax(-1, keepdim=True)

    def step(self, side: str) -> torch.Tensor:
        mask = torch.ones(1, self.length + 1, dtype=torch.long)
        if side == "qwen_lite":
            out = self.ours(
                self.token, attention_mask=mask, past_key_values=self.cache, rope_deltas=self.rope_deltas
            )
        else:
            out = self.theirs(
                self.token,
                attention_mask=mask,
                past_key_values=self.ref_cache,
                use_cache=True,
                cache_position=torch.tensor([self.length]),
            )
        return out.logits[:, -1]

    def advance(self, logits: torch.Tensor) -> None:
        self.token, self.length = logits.argmax(-1, keepdim=True), self.length + 1


def measure(pair: Pair, steps: int) -> dict:
    logits = pair.step("qwen_lite")  # warm-up: one step each, outside the timing
    identical = pair.identical and torch.equal(logits, pair.step("transformers"))
    pair.advance(logits)
    times = {"qwen_lite": [], "transformers": []}
    cpu = {"qwen_lite": [], "transformers": []}
    contention = Contention()
    for _ in range(steps):
        logits = {}
        for side in ("qwen_lite", "transformers"):
            began, began_cpu = time.perf_counter(), time.process_time()
            logits[side] = pair.step(side)
            times[side].append(round(time.perf_counter() - began, 5))
            cpu[side].append(round(time.process_time() - began_cpu, 5))
        identical &= torch.equal(logits["qwen_lite"], logits["transformers"])
        pair.advance(logits["qwen_lite"])
    a, b = (statistics.median(times[k]) for k in ("qwen_lite", "transformers"))
    share = contention.share()
    return {
        "qwen_lite_s": round(a, 5),
        "transformers_s": round(b, 5),
        "ratio": round(a / b, 3),
        "median_pair_ratio": round(
            statistics.median(x / y for x, y in zip(times["qwen_lite"], times["transformers"], strict=True)),
            3,
        ),
        "qwen_lite_cpu_s": round(statistics.median(cpu["qwen_lite"]), 5),
        "transformers_cpu_s": round(statistics.median(cpu["transformers"]), 5),
        "cpu_ratio": round(statistics.median(cpu["qwen_lite"]) / statistics.median(cpu["transformers"]), 3),
        "others_cpu_share": share,
        "quiet": share is not None and share < QUIET,
        "logits_identical": bool(identical),
        "runs": times,
        "cpu_runs": cpu,
    }


def profile(pair: Pair, rows: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for side in ("qwen_lite", "transformers"):
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            pair.step(side)
        print(f"===== {side}: one decode step")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="float32")
    parser.add_argument("--layers", type=int, default=36, help="decoder layers kept (default: all 36)")
    parser.add_argument("--prompt", type=int, default=293, help="prompt tokens before decoding (default 293)")
    parser.add_argument("--steps", type=int, default=16, help="timed steps of each library (default 16)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print per-op profiles of one step, no file")
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    import transformers

    torch.set_num_threads(args.threads)
    config = text_config(args.layers)
    ours, theirs = build(config, getattr(torch, args.dtype))
    with torch.inference_mode():
        pair = Pair(ours, theirs, args.prompt)
        if args.profile:
            logits = pair.step("qwen_lite")  # warm-up, one step each; then both caches hold one token more
            pair.step("transformers")
            pair.advance(logits)
            profile(pair, args.rows)
            return
        figures = measure(pair, args.steps)
    key = f"{args.dtype}-{args.threads}threads-{args.layers}layers"
    print(
        f"{key}: qwen_lite {figures['qwen_lite_s'] * 1e3:.1f} ms/step, transformers "
        f"{figures['transformers_s'] * 1e3:.1f} ms/step, ratio {figures['ratio']:.3f} "
        f"(step by step {figures['median_pair_ratio']:.3f}; CPU time {figures['cpu_ratio']:.3f}), others used {figures['others_cpu_share']} of "
        f"the CPUs, logits identical {figures['logits_identical']}"
    )
    machine = {**machine_info(args.threads), "transformers": transformers.__version__}
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    run = {
        "machine": machine,
        "settings": {
            "layers": args.layers,
            "prompt": args.prompt,
            "steps": args.steps,
            "threads": args.threads,
        },
        **figures,
    }
    data = {"about": ABOUT, "runs": {**data.get("runs", {}), key: run}}
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote runs[{key!r}] of {args.out}")


if __name__ == "__main__":
    main()
