"""Chapter 11's live widget (``kvcache.js``): what a generation step computes, with and without the KV cache.

The page counts with ``cache_steps.js``, which CI checks against what
:func:`qwen_lite.generation.generate` feeds its forward passes (:mod:`qwen_lite.viz.live.cache_steps`).
"""

from __future__ import annotations

import traitlets

from .base import LiveWidget


class KVCacheWidget(LiveWidget):
    """``prompt_len`` tokens (1-64), decode ``step`` (0 = the prefill, up to ``max_step``), ``use_cache``."""

    module = "kvcache"
    prompt_len = traitlets.Int(12).tag(sync=True, live=True)
    step = traitlets.Int(0).tag(sync=True, live=True)
    max_step = traitlets.Int(12).tag(sync=True, live=True)
    use_cache = traitlets.Bool(True).tag(sync=True, live=True)

    @traitlets.validate("prompt_len")
    def _prompt_len(self, proposal):
        if not 1 <= proposal["value"] <= 64:
            raise traitlets.TraitError(f"prompt_len: expected 1 to 64 tokens, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("step", "max_step")
    def _step(self, proposal):
        if not 0 <= proposal["value"] <= 64:
            raise traitlets.TraitError(f"{proposal['trait'].name}: expected 0 to 64, got {proposal['value']}")
        return proposal["value"]


def kv_cache_widget(
    prompt_len: int = 12, step: int = 0, max_step: int = 12, use_cache: bool = True
) -> KVCacheWidget:
    """The widget for a prompt of ``prompt_len`` tokens at ``step`` (the slider goes to ``max_step``)."""
    if step > max_step:
        raise ValueError(f"step: expected at most max_step = {max_step}, got {step}")
    return KVCacheWidget(prompt_len=prompt_len, step=step, max_step=max_step, use_cache=use_cache)
