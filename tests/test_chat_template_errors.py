"""Malformed conversations get a clear error from ``apply_chat_template``; well-formed odd ones render as
the released Jinja template renders them.

The template itself never refuses anything: a str content item goes through ``'image' in content``, a
substring test (``"an image"`` renders an image placeholder), a None message renders an empty turn.
``qwen_lite`` refuses such input with a ``TypeError``/``ValueError`` that names the place
(``messages[i]``, ``messages[i]['content'][j]``...), what was expected and what arrived. Shapes the
template renders sensibly (content as a str, tuples, extra keys, unknown item kinds) are accepted and
compared with the template (:func:`tests.test_tokenizer.render_jinja`).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen_lite import apply_chat_template
from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.tokenizer import get_tokenizer
from tests.test_tokenizer import MESSAGES, PROPERTY, render_jinja

USER = {"role": "user", "content": "x"}

# (messages, exception, the start of the message, what must be said about what arrived)
MALFORMED = {
    # handed case randomized/05
    "str item": (
        [{"role": "user", "content": ["hi"]}],
        TypeError,
        "messages[0]['content'][0]: expected",
        "str 'hi'",
    ),
    "str message": (["hello"], TypeError, "messages[0]: expected", "str 'hello'"),
    "None message": ([USER, None], TypeError, "messages[1]: expected", "NoneType None"),
    "None item": ([{"role": "user", "content": [None]}], TypeError, "messages[0]['content'][0]", "NoneType"),
    # the item index is the one at fault
    "second item": (
        [{"role": "user", "content": [{"type": "text", "text": "a"}, "an image"]}],
        TypeError,
        "messages[0]['content'][1]: expected an item dict",
        "str 'an image'",
    ),
    "list item": (
        [USER, {"role": "user", "content": [["a"]]}],
        TypeError,
        "messages[1]['content'][0]",
        "list",
    ),
    "role int": ([{"role": 1, "content": "x"}], TypeError, "messages[0]['role']: expected a str", "int 1"),
    "role None": ([USER, {"role": None, "content": "x"}], TypeError, "messages[1]['role']", "NoneType None"),
    "text int": (
        [{"role": "user", "content": [{"type": "text", "text": 5}]}],
        TypeError,
        "messages[0]['content'][0]['text']: expected a str",
        "int 5",
    ),
    "text None": (
        [{"role": "user", "content": [{"text": None}]}],
        TypeError,
        "messages[0]['content'][0]['text']: expected a str",
        "NoneType None",
    ),
    "text item without text": (
        [{"role": "user", "content": [{"type": "text"}]}],
        ValueError,
        "messages[0]['content'][0]: a {'type': 'text'} item needs a 'text' key",
        "['type']",
    ),
    "content None": (
        [{"role": "user", "content": None}],
        TypeError,
        "messages[0]['content']: expected",
        "NoneType",
    ),
    "content dict": (
        [{"role": "user", "content": {"type": "text", "text": "a"}}],
        TypeError,
        "messages[0]['content']: expected a str or a list",
        "dict",
    ),
    "content int": ([{"role": "user", "content": 3}], TypeError, "messages[0]['content']", "int 3"),
    "no content key": (
        [{"role": "user"}],
        ValueError,
        "messages[0]: needs 'role' and 'content' keys",
        "['role']",
    ),
    "no role key": (
        [USER, {"content": "x"}],
        ValueError,
        "messages[1]: needs 'role' and 'content'",
        "['content']",
    ),
    "empty": ([], ValueError, "messages: expected at least one", "empty list"),
    "a single dict": (USER, TypeError, "messages: expected a list", "dict"),
    "a str": ("hello", TypeError, "messages: expected a list", "str 'hello'"),
    "None": (None, TypeError, "messages: expected a list", "NoneType None"),
    "a batch": ([[USER], [USER]], TypeError, "messages[0]: expected", "a batch of conversations"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_messages_are_refused_clearly(name):
    messages, error, start, arrived = MALFORMED[name]
    with pytest.raises(error) as caught:
        apply_chat_template(messages)
    assert str(caught.value).startswith(start), str(caught.value)
    assert arrived in str(caught.value), str(caught.value)
    # The same error from the tokenizer's and the processor's entry points.
    with pytest.raises(error, match=re.escape(start)):
        get_tokenizer().apply_chat_template(messages)
    with pytest.raises(error, match=re.escape(start)):
        Qwen25VLProcessor().apply_chat_template(messages)


@pytest.mark.parametrize("flag", ["add_generation_prompt", "add_vision_id"])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_flags_must_be_bools(flag, value):
    with pytest.raises(TypeError, match=f"{flag}: expected True or False, got {type(value).__name__}"):
        apply_chat_template([USER], **{flag: value})


# Odd but well-formed: the template renders these sensibly, so they are accepted, with its output.
ACCEPTED = {
    "content as a str": [{"role": "user", "content": "Hi <|image_pad|>"}],
    "tuple of messages": ({"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}),
    "tuple of items": [{"role": "user", "content": ({"type": "image"}, {"type": "text", "text": "a"})}],
    "empty content list": [{"role": "user", "content": []}],
    "empty str content": [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
    "extra keys": [
        {"role": "user", "name": "n", "content": [{"type": "image", "image": "a.png", "min_pixels": 3136}]},
        {"role": "assistant", "content": "ok", "tool_calls": []},
    ],
    "unknown item kinds render nothing": [
        {"role": "user", "content": [{"type": "audio", "audio": "a.wav"}, {}, {"type": None}]}
    ],
    "image key wins over text": [{"role": "user", "content": [{"type": "text", "text": "t", "image": None}]}],
    "any role string": [{"role": "tool", "content": "r"}, {"role": "", "content": "s"}],
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
@pytest.mark.parametrize("add_vision_id", [False, True])
def test_odd_but_well_formed_messages_match_jinja(name, add_vision_id):
    messages = ACCEPTED[name]
    expected = render_jinja(messages, True, add_vision_id)
    assert apply_chat_template(messages, True, add_vision_id) == expected


# ---------------------------------------------------------------- random malformed conversations

NOT_A_DICT = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.tuples(st.text(max_size=2)),
    st.binary(max_size=3),
)


def corrupt(messages: list[dict], data) -> tuple[list, str]:
    """Put one bad value at a random place of ``messages``; return them and the place's name."""
    messages = [dict(m) for m in messages]
    index = data.draw(st.integers(0, len(messages) - 1), label="message")
    where = f"messages[{index}]"
    place = data.draw(st.sampled_from(["message", "role", "content", "item", "text"]), label="place")
    if place == "message":
        messages[index] = data.draw(NOT_A_DICT, label="bad message")
        return messages, where
    if place == "role":
        messages[index]["role"] = data.draw(NOT_A_DICT.filter(lambda v: not isinstance(v, str)), label="role")
        return messages, where + "['role']"
    if place == "content":
        bad = data.draw(NOT_A_DICT.filter(lambda v: not isinstance(v, (str, list, tuple))), label="content")
        messages[index]["content"] = bad
        return messages, where + "['content']"
    # an item or an item's text: only a message whose content is a list has items
    items = list(messages[index]["content"]) if isinstance(messages[index]["content"], (list, tuple)) else []
    position = data.draw(st.integers(0, len(items)), label="item")
    if place == "item":
        items.insert(position, data.draw(NOT_A_DICT, label="bad item"))
    else:
        bad_text = data.draw(NOT_A_DICT.filter(lambda v: not isinstance(v, str)), label="text")
        items.insert(position, {"type": "text", "text": bad_text})
    messages[index]["content"] = items
    suffix = "" if place == "item" else "['text']"
    # messages before this one are rendered first, but they are well-formed: the error names this place
    return messages, f"{where}['content'][{position}]{suffix}"


@PROPERTY
@given(messages=MESSAGES, data=st.data())
def test_property_malformed_messages_name_the_place(messages, data):
    broken, where = corrupt(messages, data)
    with pytest.raises((TypeError, ValueError)) as caught:
        apply_chat_template(broken)
    assert str(caught.value).startswith(where + ": expected"), (where, str(caught.value))
    assert "got " in str(caught.value)


# A conversation's place in a batch (processor(messages=[conversation, ...])): the error names both. The place
# is compared (the processor words some of its own checks differently), and what arrived. "a batch" is no
# malformed input for the processor: it takes batches.
PER_CONVERSATION = sorted(
    name
    for name, (_, _, start, _) in MALFORMED.items()
    if start.startswith("messages[") and name != "a batch"
)


@pytest.mark.parametrize("name", PER_CONVERSATION)
def test_errors_in_a_batch_of_conversations_name_the_conversation(name):
    messages, error, start, arrived = MALFORMED[name]
    place = start.split(":")[0]  # e.g. messages[0]['content'][1]
    processor = Qwen25VLProcessor()
    with pytest.raises(error) as caught:  # alone: the conversation is `messages`
        processor(messages=messages)
    assert str(caught.value).startswith(place + ": "), str(caught.value)
    with pytest.raises(error) as caught:  # second in a batch: messages[1][0]['content'][1]
        processor(messages=[[USER], messages])
    assert str(caught.value).startswith("messages[1]" + place.removeprefix("messages") + ": "), str(
        caught.value
    )
    assert arrived in str(caught.value), str(caught.value)
