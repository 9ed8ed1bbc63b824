"""What the released 3B costs on a CPU, as a Markdown table read from ``real_size_results.json``.

    .venv/bin/python benchmarks/expectations.py      # print the table the README shows

The README's table is this output (``tests/test_readme_expectations.py`` checks that it is), so the
figures cannot drift from the committed measurements; chapter 13 reads the same file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "real_size_results.json"
ROWS = [  # (label, key, format)
    ("load", "load_s", "{:.1f} s"),
    ("warm prefill", "warm_prefill_s", "{:.1f} s"),
    ("of which the vision tower", "warm_vision_s", "{:.1f} s"),
    ("decode", "decode_s_per_token", "{:.2f} s/token"),
]


def table(results: dict) -> str:
    """The Markdown table: one pair of columns (qwen_lite, transformers) per measured dtype."""
    runs = results["runs"]
    names = sorted(runs)
    first = runs[names[0]]
    machine = first["machine"]
    settings = first["settings"]
    lines = [
        f"Measured on {machine['cpu']}, {machine['cores']} cores, {machine['ram_gb']:.0f} GB RAM, torch "
        f"{machine['torch']}, transformers {machine['transformers']}, {settings['threads']} threads; "
        f"a {settings['image']} image and {settings['text_tokens']} text tokens ({settings['prompt_tokens']} "
        f"in all), {settings['decode_tokens']} new tokens:",
        "",
        "| "
        + " | ".join(
            ["3B"]
            + [
                f"qwen_lite {runs[n]['settings']['dtype']} | transformers {runs[n]['settings']['dtype']}"
                for n in names
            ]
        )
        + " |",
        "|---|" + "---:|---:|" * len(names),
    ]
    peak = ["peak memory"]
    for n in names:
        for side in ("qwen_lite", "reference"):
            peak.append(f"{runs[n][side]['memory_gb']['end']['VmHWM']:.2f} GB")
    lines.append("| " + " | ".join(peak) + " |")
    for label, key, fmt in ROWS:
        row = [label]
        for n in names:
            for side in ("qwen_lite", "reference"):
                row.append(fmt.format(runs[n][side][key]))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(table(json.loads(RESULTS.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
