"""DeepStack (Qwen3-VL): vision features from intermediate ViT blocks, added into the first decoder layers.

Qwen2.5-VL hands the language model one vector per merged token: the tower's *last* block, merged.
Qwen3-VL also taps the blocks in ``deepstack_visual_indexes`` (8, 16, 24 of 27 in the released towers).
Each tapped output goes through its own merger, and the result is *added* to the decoder's hidden
states at the visual positions after decoder layer 0, 1, 2 (one tap per layer, in order)::

    vision block 8  --deepstack_merger_list.0--> (n/4, dim) --added after decoder layer 0--+
    vision block 16 --deepstack_merger_list.1--> (n/4, dim) --added after decoder layer 1--+ at the
    vision block 24 --deepstack_merger_list.2--> (n/4, dim) --added after decoder layer 2--+ <|image_pad|>s
    last block      --merger-------------------> (n/4, dim) --written over the placeholders (as in 2.5)

Low-level detail from early blocks thus reaches the LLM without lengthening the sequence (Meng et al.,
"DeepStack: Deeply Stacking Visual Tokens is Surprisingly Simple and Effective for LMMs", 2024; the
Qwen3-VL report adopts it to tighten vision-language alignment).

Here: :class:`VisionMerger` (Qwen3-VL's merger, used for the main merger and the DeepStack ones; they
differ by where the LayerNorm sits), :func:`join_deepstack` (image and video features into one list in
sequence order) and :func:`add_deepstack` (the decoder-side addition). Source: transformers 4.57.6 /
5.24.0 ``models/qwen3_vl/modeling_qwen3_vl.py`` (``Qwen3VLVisionPatchMerger``, ``Qwen3VLModel.forward``,
``Qwen3VLTextModel._deepstack_process``).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from qwen_lite.shapes import check_shape


class VisionMerger(nn.Module):
    """Qwen3-VL's patch merger: join each 2x2 unit into one LLM token. ``(n hidden) -> (n/4 out_hidden)``.

    ``postshuffle_norm=False`` (the main merger): LayerNorm each patch (width ``hidden``), then concatenate
    the unit's four rows. ``True`` (the DeepStack mergers): concatenate first, then LayerNorm the
    ``4 * hidden`` vector. Then Linear -> GELU (exact, erf) -> Linear in both. Parameter names are the
    checkpoint's (``norm``, ``linear_fc1``, ``linear_fc2``). Qwen2.5-VL's merger
    (:class:`qwen_lite.vision.PatchMerger`) is the pre-shuffle variant with an RMSNorm and other names.
    """

    def __init__(self, hidden_size: int, out_hidden_size: int, merge_size: int, postshuffle_norm: bool,
                 eps: float = 1e-6):  # fmt: skip
        super().__init__()
        self.unit = merge_size**2
        width = hidden_size * self.unit
        self.postshuffle_norm = postshuffle_norm
        self.norm = nn.LayerNorm(width if postshuffle_norm else hidden_size, eps=eps)
        self.linear_fc1 = nn.Linear(width, width)
        self.act_fn = nn.GELU()
        self.linear_fc2 = nn.Linear(width, out_hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shuffle = "(m unit) d -> m (unit d)"
        if self.postshuffle_norm:
            x = self.norm(rearrange(x, shuffle, unit=self.unit))
        else:
            x = rearrange(self.norm(x), shuffle, unit=self.unit)
        return self.linear_fc2(self.act_fn(self.linear_fc1(x)))


def join_deepstack(
    image_mask: torch.Tensor | None,
    image_features: list[torch.Tensor] | None,
    video_mask: torch.Tensor | None,
    video_features: list[torch.Tensor] | None,
) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
    """One DeepStack input for the decoder from the image and the video features.

    image_mask / video_mask: (b l) bool, True at ``<|image_pad|>`` / ``<|video_pad|>``; image_features:
    one (n_image_tokens dim) tensor per tapped block (same for videos), rows in placeholder order.
    Returns ``(visual_mask (b l), [(n_visual dim) per tapped block])`` with each row at its token's place
    among all visual tokens (images and videos interleaved as they occur), or None when there are no
    features. As transformers ``Qwen3VLModel.forward``: rows of the other kind start at zero and are written.
    """
    kinds = [(m, f) for m, f in ((image_mask, image_features), (video_mask, video_features)) if f]
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds[0]
    visual_mask = image_mask | video_mask
    joined = []
    for image, video in zip(image_features, video_features, strict=True):
        rows = image.new_zeros(int(visual_mask.sum()), image.shape[-1])
        rows[image_mask[visual_mask]] = image
        rows[video_mask[visual_mask]] = video
        joined.append(rows)
    return visual_mask, joined


def add_deepstack(hidden: torch.Tensor, visual_mask: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """``hidden`` (b l dim) with ``features`` (n_visual dim) added at the True places of ``visual_mask`` (b l).

    A new tensor (the input is left as it was, so autograd and activation checkpointing see a pure
    function); the sum is the reference's ``hidden[mask] + features``, bit for bit.
    """
    check_shape(features, "n d", "deepstack features", n=int(visual_mask.sum()), d=hidden.shape[-1])
    visual_mask = visual_mask.to(hidden.device)
    summed = hidden[visual_mask] + features.to(hidden.device, hidden.dtype)
    return hidden.index_put((visual_mask,), summed)
