"""The bytes of a body: JSON as coderd's encoding/json writes it, times as Go's RFC3339Nano."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakeserver.timefmt import format_time
from fakeserver.wire import Wire, WireList, encode, json_bytes

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(st.characters(exclude_categories=["Cs"]))  # safejson keeps lone surrogates out of the world
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INT64 | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def go_json(value: object) -> bytes:
    """encoding/json with SetEscapeHTML(true), written out from its rules with the standard library."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text.encode("utf-8")


@given(JSON_VALUES)
def test_json_is_what_encoding_json_writes(value: object) -> None:
    assert json_bytes(value) == go_json(value)


@pytest.mark.parametrize("text", ["<", ">", "&", "\u2028", "\u2029", "…", "… \u2029", "a\u2028…"])
@pytest.mark.parametrize("padding", [0, 100])  # a short body and a long one are looked through differently
def test_each_escaped_character_is_found_alone(text: str, padding: int) -> None:
    value = {"text": text, "padding": "x" * padding}
    assert json_bytes(value) == go_json(value)


def test_html_characters_and_line_separators_are_escaped_as_go_escapes_them() -> None:
    body = {"message": "<b>Tom & Jerry</b>\u2028\u2029", "control": "\x00\x08\x0c\n\x1f\x7f", "é": "😀"}
    expected = (
        '{"message":"\\u003cb\\u003eTom \\u0026 Jerry\\u003c/b\\u003e\\u2028\\u2029",'
        '"control":"\\u0000\\b\\f\\n\\u001f\x7f","é":"😀"}'
    )
    assert json_bytes(body) == expected.encode("utf-8")


def test_a_body_ends_with_a_newline_and_a_list_joins_its_fragments() -> None:
    items = [Wire({"id": "a", "name": "<x>"}), Wire({"id": "b"})]
    assert encode({"message": "ok"}) == b'{"message":"ok"}\n'
    assert encode(items[0]) == b'{"id":"a","name":"\\u003cx\\u003e"}\n'
    assert encode({"tasks": WireList(items), "count": 2}) == (
        b'{"tasks":[{"id":"a","name":"\\u003cx\\u003e"},{"id":"b"}],"count":2}\n'
    )


def go_rfc3339_nano(moment: datetime) -> str:
    """Go's time.RFC3339Nano in UTC, from its definition: the fraction without trailing zeros."""
    utc = moment.astimezone(UTC)
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    clock = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    return clock + (f".{fraction}" if fraction else "") + "Z"


ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
MOMENTS = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(8999, 12, 31), timezones=ZONES | st.just(UTC))


@given(MOMENTS)
def test_times_are_rfc3339_nano_in_utc(moment: datetime) -> None:
    assert format_time(moment) == go_rfc3339_nano(moment)


def test_times_keep_the_four_digits_of_early_years_and_drop_a_whole_fraction() -> None:
    assert format_time(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05Z"
    assert format_time(datetime(2026, 1, 5, 9, 0, 0, 120000, tzinfo=UTC)) == "2026-01-05T09:00:00.12Z"
    assert format_time(datetime(2026, 1, 5, 11, 0, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-05T09:00:00Z"


def test_a_kept_encoding_costs_about_its_length() -> None:
    """A task's wire form is kept while it is unchanged: it must not hold the encoder's buffer or the
    decoded object tree beside its bytes."""
    value = {"id": "5f0c1a7e-0000-4000-8000-000000000000", "message": "y" * 900, "items": list(range(20))}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        wires = [Wire(value) for _ in range(200)]
        per_wire = (tracemalloc.get_traced_memory()[0] - before) / len(wires)
    finally:
        tracemalloc.stop()
    assert per_wire < 1.5 * len(wires[0].encoded)
    assert wires[0].value == value  # decoded again when asked for


@pytest.mark.parametrize("status", [200, 201, 202, 400, 404, 409, 500])
def test_a_json_answer_is_framed_as_starlette_frames_it(status: int) -> None:
    """`coder_json` sets the headers of most answers itself: those Starlette's Response would set."""
    from starlette.responses import Response

    from fakeserver.responses import JSON_MEDIA_TYPE, coder_json

    body = {"message": "Fix <it> ✓", "items": [1, 2]}
    ours = coder_json(status, body)
    theirs = Response(encode(body), status_code=status, media_type=JSON_MEDIA_TYPE)
    assert (ours.status_code, ours.raw_headers, ours.body) == (theirs.status_code, theirs.raw_headers, theirs.body)
    assert ours.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("status", [101, 200, 202, 204, 304, 400, 408])
def test_an_empty_answer_is_framed_as_starlette_frames_it(status: int) -> None:
    from starlette.responses import Response

    from fakeserver.responses import empty

    ours = empty(status)
    theirs = Response(b"", status_code=status)
    assert (ours.status_code, ours.raw_headers, ours.body) == (theirs.status_code, theirs.raw_headers, theirs.body)


FRAGMENTS = st.lists(st.dictionaries(st.sampled_from("abc"), TEXT, max_size=3), max_size=30)


@given(FRAGMENTS, st.integers(min_value=1, max_value=400), st.integers(min_value=1, max_value=400))
def test_a_long_list_is_sent_in_chunks_that_join_to_its_bytes(
    items: list[dict[str, str]], chunk_bytes: int, other_chunk_bytes: int
) -> None:
    """A kept list is chunked by its own kept cuts, for any chunk size asked of it, one after the other."""
    from fakeserver.responses import PartsResponse
    from fakeserver.wire import encode_parts

    wires = WireList([Wire(item) for item in items])
    body = {"tasks": wires, "count": len(items)}
    expected = json.dumps(body | {"tasks": items}, ensure_ascii=False, separators=(",", ":"))
    whole = encode(body)
    assert json.loads(whole) == json.loads(expected)
    longest = max((len(wire.encoded) for wire in wires.items), default=0)
    for size in (chunk_bytes, other_chunk_bytes, chunk_bytes):
        encoded = encode_parts(body)
        assert encoded.size == len(whole)
        chunks = list(PartsResponse(encoded, 200, None).chunks(size))
        assert b"".join(chunks) == whole
        assert all(chunk for chunk in chunks)
        assert all(len(chunk) >= size for chunk in chunks[:-1])
        assert all(len(chunk) < size + longest + len(b',"count":}\n') + 32 for chunk in chunks)
