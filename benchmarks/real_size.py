"""The released model's real size on a CPU: load, memory, prefill and decode, qwen_lite against transformers.

    .venv/bin/python benchmarks/real_size.py                  # 3B, bf16: ~8 GB RAM a process, ~4 min here
    .venv/bin/python benchmarks/real_size.py --quick          # a small config, ~1 min, prints only
    .venv/bin/python benchmarks/real_size.py --preset 7B      # ~16 GB RAM per process
    .venv/bin/python benchmarks/real_size.py --dtype float32  # loaded in float32: twice the memory

Opt-in, never in CI: it writes a multi-GB checkpoint and needs the memory of the model. What it does:

1. Writes a checkpoint folder with the released shapes (``qwen_lite.config.PRESETS``), random bfloat16
   weights (the released dtype), in ``--shards`` safetensors shards plus ``model.safetensors.index.json``,
   to a temporary folder, without ever holding the model in memory: the model is built on the ``meta`` device
   (shapes only) and the weights are generated and saved shard by shard. Random weights behave like real
   ones for time and memory (same shapes, same kernels); the answers are noise.
2. Prepares one prompt with qwen_lite's processor: a 448x448 image (256 image tokens) and a question (the
   chat template's text tokens around it). Both libraries get exactly these ids and pixels.
3. Runs each library in its own fresh process (one after the other, with ``--threads`` threads), having
   first evicted the checkpoint files from the page cache, so each starts from the disk as a user's first
   run does, and neither profits from the other's cached pages. ``--rounds`` (default 2) fresh processes per
   library, in the order qwen_lite, reference, reference, qwen_lite, ...; each figure is the median over a
   library's rounds (peak memory: the maximum), every round is kept in the results. One process each is not
   enough on a virtual machine: here qwen_lite's float32 decode measured 0.539, 0.606 and 0.689 s/token in
   three processes (its decode code unchanged between them), and a one-round float32 run read a 1.36x
   decode ratio that neither a repeat nor alternating steps on shared weights (``decode_step.py``)
   reproduced. Per process:

   * load: ``from_pretrained(folder, dtype=--dtype)`` time (qwen_lite's memory check included;
     transformers with SDPA attention). In bfloat16 the weights stay views of the mapped files; in
     float32 both libraries convert them (what 4.57.6's default costs);
   * resident memory (``/proc/self/status``): ``VmRSS`` split into file-backed ``RssFile`` (pages of the
     memory-mapped checkpoint) and anonymous ``RssAnon`` (allocated memory), after the imports, after
     the load, after the first prefill and at the end; the peak ``VmHWM`` over the whole run;
   * the first ("cold") prefill, which also reads the weights from the disk as it first touches them,
     and the warm prefill (the median of ``--warm-runs`` repeats): one forward over the whole prompt with
     the KV cache, split into the vision tower (forward hooks on it) and the rest (the text part);
   * decode: greedy ``generate`` with the end ids disabled, ``--decode-tokens`` new tokens; seconds per
     token from the time stamps of the first and the last new token (each library's own loop);
   * next to the wall times of the warm prefill and of decoding, the process CPU time (all threads):
     on a busy machine it usually moves less than the wall time (though waiting threads that spin count).

The greedy ids and the last prefill logits of both are compared (bit for bit). Results go to
``benchmarks/real_size_results.json`` (``--out``), under ``runs["3B-bfloat16"]`` (preset-dtype; other runs in
the file are kept), with the machine they were measured on (CPU model, cores, threads, RAM, load
average). Times are only as good as the machine is quiet: each process also records ``others_cpu_share``,
the share of the machine's CPU time *other* processes used while it measured (from ``/proc/stat``; the
load average cannot tell, as the benchmark's own threads raise it by about ``--threads``), and the run is
marked ``quiet`` when both shares are below 0.1. A process measured while others used more is measured
again (``--retries``, within ``--budget`` minutes), and the quietest attempt is kept. The reference is
the transformers of ``--reference-python`` (default: this interpreter, transformers 4.57.6 in ``.venv``;
``.venv-tf5/bin/python`` for 5.x).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "real_size_results.json"
IMAGE_SIZE = 448  # pixels: 32x32 patches, 256 image tokens
PROMPT = "Describe this image in detail: the objects, their colours and any visible text."
SHARDS = {"3B": 4, "7B": 5, "quick": 2}
CHECKPOINT_DTYPE = torch.bfloat16  # as released; --dtype is the dtype both libraries load it in
GB = 1e9
QUIET = 0.1  # a process measured while other processes used less than this share of the CPUs
ABOUT = (
    "benchmarks/real_size.py: the released shapes with random bf16 weights, qwen_lite and transformers each "
    "in a fresh process (page cache evicted first), on the machine described in each run. Runs are keyed "
    "preset-dtype (the dtype both libraries load in). Times in seconds, memory in GB (1e9 bytes); ratios "
    "are qwen_lite / transformers."
)


# --- the checkpoint ---------------------------------------------------------------------------------------


def bench_config(preset: str):
    """The qwen_lite config of ``preset`` ("3B", "7B"); for "quick" ``config.small()`` (real vocabulary)."""
    from qwen_lite import config as C

    return C.small() if preset == "quick" else C.PRESETS[preset]()


def initial_value(
    name: str, shape: torch.Size, dtype: torch.dtype, generator: torch.Generator
) -> torch.Tensor:
    """As transformers initialises: norms 1, biases 0, every other weight normal(0, 0.02)."""
    if "norm" in name or ".ln_q." in name:
        return torch.ones(shape, dtype=dtype)
    if name.endswith(".bias"):
        return torch.zeros(shape, dtype=dtype)
    return torch.empty(shape, dtype=dtype).normal_(0.0, 0.02, generator=generator)


def split_evenly(sizes: dict[str, int], shards: int) -> list[list[str]]:
    """Keys in order, cut into ``shards`` runs of about equal bytes (a tensor goes where it starts)."""
    total, start, out = sum(sizes.values()), 0, [[] for _ in range(shards)]
    for key, size in sizes.items():
        out[min(shards - 1, start * shards // total)].append(key)
        start += size
    return [keys for keys in out if keys]


def write_checkpoint(config, folder: Path, dtype: torch.dtype, shards: int, seed: int = 0) -> dict:
    """A sharded safetensors checkpoint of ``config`` with random weights, one shard in memory at a time.

    Writes ``config.json`` (with ``torch_dtype``), ``generation_config.json``, the shards and the index, as
    released (tied embeddings: no ``lm_head.weight``). Returns {"parameters", "bytes", "shards", "seconds"}.
    """
    from safetensors.torch import save_file

    from qwen_lite.config import to_hf_dict
    from qwen_lite.generation import GenerationConfig
    from qwen_lite.model import Qwen25VLForConditionalGeneration
    from qwen_lite.weights import SkipInitOnMeta

    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    with torch.device("meta"), SkipInitOnMeta():
        meta = Qwen25VLForConditionalGeneration(config)
    shapes = {k: v.shape for k, v in meta.state_dict().items()}
    if config.text.tie_word_embeddings:
        shapes.pop("lm_head.weight")
    itemsize = dtype.itemsize
    sizes = {k: math.prod(s) * itemsize for k, s in shapes.items()}
    groups = split_evenly(sizes, shards)
    generator = torch.Generator().manual_seed(seed)
    weight_map = {}
    for i, keys in enumerate(groups, start=1):
        name = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        shard = {k: initial_value(k, shapes[k], dtype, generator) for k in keys}
        save_file(shard, folder / name, metadata={"format": "pt"})
        del shard
        weight_map.update(dict.fromkeys(keys, name))
        print(f"  wrote {name} ({sum(sizes[k] for k in keys) / GB:.2f} GB)", flush=True)
    total = sum(sizes.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    hf = to_hf_dict(config)
    hf["torch_dtype"] = str(dtype).removeprefix("torch.")
    (folder / "config.json").write_text(json.dumps(hf, indent=2))
    generation = GenerationConfig.from_model_config(config).to_dict()
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2))
    return {
        "parameters": sum(math.prod(s) for s in shapes.values()),
        "bytes": total,
        "shards": len(groups),
        "seconds": round(time.perf_counter() - start, 1),
    }


def evict_from_page_cache(folder: Path) -> bool:
    """Have the kernel drop the folder's files from the page cache (flushed first); False if it can't."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in folder.glob("*.safetensors"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


# --- the prompt -------------------------------------------------------------------------------------------


def prompt_inputs(size: int = IMAGE_SIZE) -> dict:
    """input_ids, attention_mask, pixel_values, image_grid_thw of one image + question, via the processor."""
    import numpy as np
    from PIL import Image

    from qwen_lite.processor import Qwen25VLProcessor

    y, x = np.mgrid[0:size, 0:size]
    image = Image.fromarray(np.stack([x % 256, y % 256, (x * y) % 256], -1).astype("uint8"))
    content = [{"type": "image", "image": image}, {"type": "text", "text": PROMPT}]
    return dict(Qwen25VLProcessor()(messages=[{"role": "user", "content": content}]))


# --- one library in one process ---------------------------------------------------------------------------


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes have run since boot (``/proc/stat``: every column but idle and iowait)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class Contention:
    """How much of the machine's CPU time others used while this process measured (0: a quiet machine).

    ``share()``: (CPU seconds of every process - this process's) / (wall seconds x cores) since creation.
    The load average cannot tell this apart: the benchmark's own threads raise it by about ``--threads``.
    """

    def __init__(self):
        self.busy, self.own, self.wall = busy_cpu_seconds(), time.process_time(), time.perf_counter()

    def share(self) -> float | None:
        busy = busy_cpu_seconds()
        if busy is None or self.busy is None:
            return None
        others = (busy - self.busy) - (time.process_time() - self.own)
        return round(max(others, 0.0) / ((time.perf_counter() - self.wall) * os.cpu_count()), 3)


def memory_status() -> dict:
    """VmRSS, RssAnon, RssFile and the peak VmHWM of this process, in GB (Linux /proc/self/status)."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return {
        k: round(int(fields[k].split()[0]) * 1024 / GB, 3) for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    }


class VisionTimer:
    """Forward hooks on the vision tower: the seconds its last call took."""

    def __init__(self, tower: torch.nn.Module):
        self.seconds = 0.0
        tower.register_forward_pre_hook(self._start)
        tower.register_forward_hook(self._stop)

    def _start(self, module, args):
        self.started = time.perf_counter()

    def _stop(self, module, args, output):
        self.seconds = time.perf_counter() - self.started


class _Stamps:
    """A transformers streamer that notes when each new token arrives (its first put is the prompt)."""

    def __init__(self):
        self.stamps, self.seen_prompt = [], False

    def put(self, value):
        if self.seen_prompt:
            self.stamps.append((time.perf_counter(), time.process_time()))
        self.seen_prompt = True

    def end(self):
        pass


def child(
    side: str,
    folder: Path,
    dtype_name: str,
    inputs_path: Path,
    decode_tokens: int,
    warm_runs: int,
    threads: int,
) -> dict:
    """Load ``side``'s model from ``folder`` and measure; returns the figures (and writes its logits)."""
    torch.set_num_threads(threads)
    dtype = getattr(torch, dtype_name)
    inputs = torch.load(inputs_path)
    out = {"memory_gb": {}, "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    contention = Contention()
    if side == "qwen_lite":
        from qwen_lite.weights import from_pretrained

        out["memory_gb"]["imports"] = memory_status()
        start = time.perf_counter()
        model = from_pretrained(folder, dtype=dtype)  # the memory check runs too
        tower = model.visual
        call_inputs = inputs
    else:
        import transformers
        from transformers import Qwen2_5_VLForConditionalGeneration

        from tests.reference import reference_inputs

        out["transformers"] = transformers.__version__
        out["memory_gb"]["imports"] = memory_status()
        start = time.perf_counter()
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            folder, dtype=dtype, attn_implementation="sdpa"
        )
        model.eval()
        tower = model.model.visual
        call_inputs = reference_inputs(model, **inputs)
        model.generation_config.eos_token_id = None  # end ids disabled: every run makes decode_tokens tokens
    out["load_s"] = time.perf_counter() - start
    out["memory_gb"]["after_load"] = memory_status()
    out["weights_dtype"] = str(next(model.parameters()).dtype).removeprefix("torch.")
    vision = VisionTimer(tower)

    def prefill():
        begin, cpu = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            logits = model(**call_inputs, use_cache=True, logits_to_keep=1).logits
        total = time.perf_counter() - begin
        return total, vision.seconds, logits, time.process_time() - cpu

    total, seen, _, _ = prefill()
    out.update(cold_prefill_s=total, cold_vision_s=seen, cold_text_s=total - seen)
    out["memory_gb"]["after_cold_prefill"] = memory_status()
    runs = [prefill() for _ in range(warm_runs)]
    warm = statistics.median(r[0] for r in runs)
    warm_vision = statistics.median(r[1] for r in runs)
    out.update(
        warm_prefill_s=warm,
        warm_vision_s=warm_vision,
        warm_text_s=warm - warm_vision,
        warm_prefill_runs=[r[0] for r in runs],
        warm_prefill_cpu_s=statistics.median(r[3] for r in runs),
    )
    torch.save(runs[-1][2][0, -1].float(), folder / f"logits_{side}.pt")

    begin = time.perf_counter()
    with torch.inference_mode():
        if side == "qwen_lite":
            stamps = []
            ids = model.generate(
                **call_inputs,
                max_new_tokens=decode_tokens,
                do_sample=False,
                repetition_penalty=1.0,
                eos_token_id=[],
                callback=lambda step, new, logits: stamps.append((time.perf_counter(), time.process_time())),
            )
        else:
            streamer = _Stamps()
            ids = model.generate(
                **call_inputs,
                max_new_tokens=decode_tokens,
                do_sample=False,
                num_beams=1,
                repetition_penalty=1.0,
                min_new_tokens=0,
                pad_token_id=0,
                streamer=streamer,
            )
            stamps = streamer.stamps
    out["generate_s"] = time.perf_counter() - begin
    assert len(stamps) == decode_tokens, f"{side}: {len(stamps)} time stamps for {decode_tokens} tokens"
    out["decode_s_per_token"] = (stamps[-1][0] - stamps[0][0]) / (decode_tokens - 1)
    out["decode_cpu_s_per_token"] = (stamps[-1][1] - stamps[0][1]) / (decode_tokens - 1)
    out["new_ids"] = ids[0, inputs["input_ids"].shape[1] :].tolist()
    out["memory_gb"]["end"] = memory_status()
    out["peak_rss_gb"] = out["memory_gb"]["end"]["VmHWM"]
    out["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out["others_cpu_share"] = contention.share()
    return out


def run_child(python: str, side: str, folder: Path, dtype: str, inputs: Path, args) -> dict:
    cmd = [
        python,
        __file__,
        "--child",
        side,
        str(folder),
        dtype,
        str(inputs),
        str(args.decode_tokens),
        str(args.warm_runs),
        str(args.threads),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{side} process failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


#: Per-process figures combined over rounds by their median (the peak memory by its maximum).
ROUND_FIGURES = (
    "load_s", "cold_prefill_s", "cold_vision_s", "cold_text_s", "warm_prefill_s", "warm_vision_s",
    "warm_text_s", "warm_prefill_cpu_s", "generate_s", "decode_s_per_token", "decode_cpu_s_per_token",
)  # fmt: skip


def measure_side(side: str, python: str, folder: Path, inputs_path: Path, args, start: float) -> dict:
    """One library in one fresh process (page cache evicted first), measured again while others competed."""
    attempts = []
    while True:
        evicted = evict_from_page_cache(folder) if args.evict else False
        print(f"{side}: measuring (page cache evicted: {evicted}) ...", flush=True)
        began = time.perf_counter()
        figures = run_child(python, side, folder, args.dtype, inputs_path, args)
        figures["page_cache_evicted"] = evicted
        attempts.append(figures)
        share, took = figures["others_cpu_share"], time.perf_counter() - began
        left = args.budget * 60 - (time.perf_counter() - start)
        if share is None or share < QUIET or len(attempts) > args.retries or left < 2.5 * took:
            break
        print(f"  other processes used {share} of the CPUs: measuring again", flush=True)
    best = min(attempts, key=lambda f: f["others_cpu_share"] or 0.0)
    best["attempts_others_cpu_share"] = [f["others_cpu_share"] for f in attempts]
    return best


def combine_rounds(measured: list[dict]) -> dict:
    """One library's figures over its rounds (fresh processes): each time the median, the peak memory the
    maximum, others_cpu_share the maximum; every round's figures are kept under ``rounds``. Process-to-process
    differences are large on a VM (see the module's docstring), so one process per library is not enough to
    compare them."""
    combined = dict(measured[0])
    for key in ROUND_FIGURES:
        combined[key] = statistics.median(m[key] for m in measured)
    combined["peak_rss_gb"] = max(m["peak_rss_gb"] for m in measured)
    shares = [m["others_cpu_share"] for m in measured]
    combined["others_cpu_share"] = None if None in shares else max(shares)
    if any(m["new_ids"] != measured[0]["new_ids"] for m in measured):
        raise RuntimeError("the same library chose different greedy ids in two processes")
    combined["rounds"] = [
        {key: m[key] for key in (*ROUND_FIGURES, "peak_rss_gb", "others_cpu_share")} for m in measured
    ]
    return combined


# --- report -----------------------------------------------------------------------------------------------


def machine_info(threads: int) -> dict:
    info = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    meminfo = {}
    if Path("/proc/meminfo").exists():
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, value = line.split(":", 1)
            meminfo[key] = int(value.split()[0]) * 1024
    return {
        "cpu": info.get("cpu", platform.processor()),
        "cores": os.cpu_count(),
        "threads": threads,
        "ram_gb": round(meminfo.get("MemTotal", 0) / GB, 1),
        "available_gb_at_start": round(meminfo.get("MemAvailable", 0) / GB, 1),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "qwen_lite_revision": source_revision(),
    }


def source_revision() -> str | None:
    """The git commit of the measured qwen_lite (``+modified`` when its files differ from it), or None."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "qwen_lite"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+modified" if changed else "")


FIGURES = [
    ("load_s", "load", "s"),
    ("cold_prefill_s", "first prefill (cold)", "s"),
    ("cold_vision_s", "  vision tower", "s"),
    ("cold_text_s", "  text part", "s"),
    ("warm_prefill_s", "prefill (warm)", "s"),
    ("warm_vision_s", "  vision tower", "s"),
    ("warm_text_s", "  text part", "s"),
    ("warm_prefill_cpu_s", "  CPU time (both threads)", "s"),
    ("decode_s_per_token", "decode per token", "s"),
    ("decode_cpu_s_per_token", "  CPU time", "s"),
    ("peak_rss_gb", "peak RSS (VmHWM)", "GB"),
]


def compare(ours: dict, theirs: dict, folder: Path) -> dict:
    ratios = {key: ours[key] / theirs[key] for key, _, _ in FIGURES if theirs[key]}
    a, b = ours["new_ids"], theirs["new_ids"]
    split = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    la, lb = torch.load(folder / "logits_qwen_lite.pt"), torch.load(folder / "logits_reference.pt")
    return {
        "ratios": ratios,
        "same_greedy_ids": a == b,
        "first_different_token": split,
        "prefill_logits_bit_identical": torch.equal(la, lb),
        "prefill_logits_max_abs_diff": (la - lb).abs().max().item(),
    }


def print_table(ours: dict, theirs: dict, comparison: dict) -> None:
    print(f"{'figure':<26} {'qwen_lite':>10} {'reference':>10}  ratio")
    for key, label, unit in FIGURES:
        ratio = comparison["ratios"][key]
        print(f"{label:<26} {ours[key]:>9.3f}{unit[0]} {theirs[key]:>9.3f}{unit[0]}  {ratio:.2f}")
    for side, figures in (("qwen_lite", ours), ("reference", theirs)):
        load, end = figures["memory_gb"]["after_load"], figures["memory_gb"]["end"]
        print(
            f"{side}: RSS after load {load['VmRSS']:.2f} GB (file {load['RssFile']:.2f}, anon "
            f"{load['RssAnon']:.2f}); at the end {end['VmRSS']:.2f} GB (file {end['RssFile']:.2f}, "
            f"anon {end['RssAnon']:.2f})"
        )
    c = comparison
    print(
        f"greedy ids equal: {c['same_greedy_ids']} (first difference: {c['first_different_token']}); "
        f"prefill logits bit-identical: {c['prefill_logits_bit_identical']} "
        f"(max |diff| {c['prefill_logits_max_abs_diff']:.3g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=["3B", "7B"], default="3B", help="released shapes (default 3B)")
    parser.add_argument(
        "--dtype",
        choices=["bfloat16", "float32"],
        default="bfloat16",
        help="dtype both libraries load the (bf16, as released) checkpoint in (default bfloat16)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="config.small() instead of the preset: a smoke test"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {DEFAULT_OUT.relative_to(ROOT)}; --quick: none)",
    )
    parser.add_argument("--shards", type=int, default=None, help="safetensors shards (default 3B: 4, 7B: 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in each process (default 2)")
    parser.add_argument("--decode-tokens", type=int, default=16, help="greedy tokens generated (default 16)")
    parser.add_argument("--warm-runs", type=int, default=2, help="warm prefills, median taken (default 2)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="fresh processes per library, in the order qwen_lite, reference, reference, qwen_lite, ...; "
        "each figure is the median over them (default 2)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure a library again (up to this many times) while other processes used "
        f"{QUIET} or more of the CPUs; the quietest attempt is kept (default 2)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=13.0,
        help="minutes: no retry that would likely end the run later (default 13)",
    )
    parser.add_argument(
        "--reference-python",
        default=sys.executable,
        help="interpreter whose transformers is the reference (default: this one)",
    )
    parser.add_argument("--tmp", type=Path, default=None, help="where the temporary checkpoint goes")
    parser.add_argument(
        "--no-evict",
        dest="evict",
        action="store_false",
        help="keep the checkpoint in the page cache between the processes",
    )
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, folder, dtype, inputs, decode, warm, threads = args.child
        figures = child(side, Path(folder), dtype, Path(inputs), int(decode), int(warm), int(threads))
        print(json.dumps(figures))
        return

    from qwen_lite.model import Qwen25VLForConditionalGeneration
    from qwen_lite.weights import SkipInitOnMeta, available_memory

    start = time.perf_counter()
    preset = "quick" if args.quick else args.preset
    config, dtype = bench_config(preset), getattr(torch, args.dtype)
    shards = args.shards or SHARDS[preset]
    with torch.device("meta"), SkipInitOnMeta():
        parameters = sum(p.numel() for p in Qwen25VLForConditionalGeneration(config).parameters())
    stored = parameters * CHECKPOINT_DTYPE.itemsize
    # Per process: the weights in the load dtype, + one converted shard's mapped pages, + ~10% to run.
    needed = 1.1 * parameters * dtype.itemsize + (stored / shards if dtype != CHECKPOINT_DTYPE else 0)
    found = available_memory()
    if found is not None and found[0] < needed:
        sys.exit(
            f"{preset} in {args.dtype}: each process needs about {needed / GB:.1f} GB, "
            f"{found[0] / GB:.1f} GB is available ({found[1]})"
        )
    base = args.tmp or Path(tempfile.gettempdir())
    if shutil.disk_usage(base).free < 1.05 * stored:
        sys.exit(f"{base}: {stored / GB:.1f} GB of disk needed for the checkpoint")
    machine = machine_info(args.threads)
    print(
        f"{preset} ({parameters / 1e9:.2f} B parameters) in {args.dtype}, {args.threads} threads; "
        f"{machine['cpu']}, load average {machine['load_average_start'][0]}",
        flush=True,
    )
    results = {"machine": machine}
    with tempfile.TemporaryDirectory(dir=base, prefix="qwen_lite_real_size_") as tmp:
        folder = Path(tmp) / "checkpoint"
        print(f"writing the checkpoint to {folder}", flush=True)
        checkpoint = write_checkpoint(config, folder, CHECKPOINT_DTYPE, shards)
        checkpoint["gb"] = round(checkpoint["bytes"] / GB, 3)
        inputs = prompt_inputs()
        inputs_path = Path(tmp) / "inputs.pt"
        torch.save(inputs, inputs_path)
        image_tokens = int(inputs["image_grid_thw"].prod()) // config.vision.spatial_merge_size**2
        length = inputs["input_ids"].shape[1]
        pythons = {"qwen_lite": sys.executable, "reference": args.reference_python}
        rounds = {side: [] for side in pythons}
        for r in range(args.rounds):
            order = list(pythons) if r % 2 == 0 else list(pythons)[::-1]  # qwen_lite first, then ABBA...
            for side in order:
                rounds[side].append(measure_side(side, pythons[side], folder, inputs_path, args, start))
        sides = {side: combine_rounds(measured) for side, measured in rounds.items()}
        comparison = compare(sides["qwen_lite"], sides["reference"], folder)
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["transformers"] = sides["reference"].pop("transformers")
    checkpoint["dtype"] = str(CHECKPOINT_DTYPE).removeprefix("torch.")
    loaded_gb = parameters * dtype.itemsize / GB
    for figures in sides.values():
        figures["peak_rss_over_weights"] = figures["peak_rss_gb"] / loaded_gb
    results.update(
        settings={
            "preset": preset,
            "dtype": args.dtype,
            "weights_gb": round(loaded_gb, 3),
            "threads": args.threads,
            "image": f"{IMAGE_SIZE}x{IMAGE_SIZE}",
            "prompt": PROMPT,
            "prompt_tokens": length,
            "image_tokens": image_tokens,
            "text_tokens": length - image_tokens,
            "decode_tokens": args.decode_tokens,
            "warm_runs": args.warm_runs,
            "rounds": args.rounds,
            "quick": args.quick,
        },
        checkpoint=checkpoint,
        qwen_lite=sides["qwen_lite"],
        reference=sides["reference"],
        comparison=comparison,
        seconds=round(time.perf_counter() - start, 1),
        quiet=all(
            sides[side]["others_cpu_share"] is not None and sides[side]["others_cpu_share"] < QUIET
            for side in sides
        ),
    )
    print_table(sides["qwen_lite"], sides["reference"], comparison)
    shares = [sides[side]["others_cpu_share"] for side in sides]
    print(
        f"other processes used {shares[0]} / {shares[1]} of the CPUs during the qwen_lite / reference process"
    )
    if not results["quiet"]:
        print("NOT QUIET: other processes competed for the CPUs; the times are not representative")
    print(f"done in {results['seconds']:.0f} s; load average {machine['load_average_end'][0]}")
    out = args.out or (None if args.quick else DEFAULT_OUT)
    if out is not None:
        write_results(out, f"{preset}-{args.dtype}", results)


def write_results(path: Path, run: str, results: dict) -> None:
    """Put ``results`` under ``runs[run]`` of the JSON file ``path``, keeping the other runs it holds."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data = {"about": ABOUT, "runs": {**data.get("runs", {}), run: results}}
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote runs[{run!r}] of {path.relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
