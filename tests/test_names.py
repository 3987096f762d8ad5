from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakeserver.names import (
    _RANDOM_ADJECTIVES,
    _RANDOM_SURNAMES,
    DISPLAY_NAME_MAX_BYTES,
    NAME_MAX_LENGTH,
    generate_task_name,
    name_error,
)

SUFFIX = r"-[0-9a-f]{4}"


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def name_stem(name: str) -> str:
    """The name without its random "-xxxx" suffix."""
    assert re.fullmatch(rf".+{SUFFIX}", name), name
    return name[:-5]


def generate(prompt: str, seed: int = 0) -> tuple[str, str]:
    return generate_task_name(prompt, random.Random(seed))


# name_error


@pytest.mark.parametrize("name", ["a", "fix-1a2b", "Task-42", "a" * NAME_MAX_LENGTH, "new-task", "created"])
def test_name_error_accepts_valid_names(name: str) -> None:
    assert name_error(name) is None


def test_name_error_rejects_names_longer_than_32() -> None:
    assert name_error("a" * 33) == "must be <= 32 characters"


def test_name_error_counts_bytes_like_go() -> None:
    # 17 characters but 34 bytes: Go's len() reports the length error first.
    assert name_error("é" * 17) == "must be <= 32 characters"


def test_name_error_rejects_empty_name() -> None:
    assert name_error("") == "must be >= 1 character"


@pytest.mark.parametrize("name", ["new", "create"])
def test_name_error_rejects_reserved_names(name: str) -> None:
    assert name_error(name) == f'cannot use "{name}" as a name'


@pytest.mark.parametrize("name", ["foo_bar", "-foo", "foo-", "foo--bar", "foo bar", "foo\n", "é", "\ud800"])
def test_name_error_rejects_non_alphanumeric_names(name: str) -> None:
    assert name_error(name) == "must be alphanumeric with hyphens"


# generate_task_name: names derived from the prompt


def test_name_is_cut_at_the_last_word_within_27_characters() -> None:
    # The first 27 characters are "Fix the failing tests in th"; the last space precedes "th".
    name, display_name = generate("Fix the failing tests in the auth module")
    assert name_stem(name) == "fix-the-failing-tests-in"
    assert display_name == "Fix the failing tests in the auth module"


def test_name_suffix_comes_from_the_rng() -> None:
    name, _ = generate("Fix the bug", seed=7)
    assert name == f"fix-the-bug-{random.Random(7).getrandbits(16):04x}"


def test_name_drops_punctuation_and_collapses_hyphens() -> None:
    name, display_name = generate("Hello, World!!! -- foo__bar")
    assert name_stem(name) == "hello-world-foobar"
    assert display_name == "Hello, World!!! -- foo__bar"


def test_name_trims_leading_and_trailing_hyphens() -> None:
    name, _ = generate("  --- deploy it! ---  ")
    assert name_stem(name) == "deploy-it"


def test_line_breaks_become_word_separators() -> None:
    name, display_name = generate("Line one\r\nline\ttwo\n\n")
    assert name_stem(name) == "line-one-line-two"
    assert display_name == "Line one line two"


def test_long_first_word_is_cut_at_27_characters() -> None:
    name, _ = generate("a" * 40 + " tail")
    assert name_stem(name) == "a" * 27
    assert name_error(name) is None


# generate_task_name: display names


def test_display_name_uppercases_only_the_first_letter() -> None:
    _, display_name = generate("make the API faster")
    assert display_name == "Make the API faster"


def test_long_prompt_display_name_is_cut_at_a_word_with_an_ellipsis() -> None:
    # 61 bytes are left for text once the 3-byte ellipsis is reserved; 12 words fill 59 of them.
    _, display_name = generate("word " * 20)
    assert display_name == "Word" + " word" * 11 + "…"


@pytest.mark.parametrize("prompt", ["x" * 200, "lorem ipsum " * 17, "é" * 200, "日本 " * 70])
def test_200_character_prompt_display_name_fits_64_bytes(prompt: str) -> None:
    prompt = prompt[:200]
    _, display_name = generate(prompt)
    assert utf8_length(display_name) <= DISPLAY_NAME_MAX_BYTES
    assert display_name.endswith("…")


# generate_task_name: random fallback names


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_gets_a_docker_style_name(prompt: str) -> None:
    name, display_name = generate(prompt)
    assert name_error(name) is None
    adjective, surname = name_stem(name).split("-")
    assert adjective in _RANDOM_ADJECTIVES
    assert surname in _RANDOM_SURNAMES
    assert display_name == f"{adjective.capitalize()} {surname.capitalize()}"


@pytest.mark.parametrize("prompt", ["日本語", "!!! ???", "¿—?"])
def test_prompt_without_name_characters_keeps_its_display_name(prompt: str) -> None:
    name, display_name = generate(prompt)
    assert name_error(name) is None
    assert re.fullmatch(rf"[a-z]+-[a-z]+{SUFFIX}", name)
    assert display_name == prompt


@pytest.mark.parametrize("prompt", ["", "Fix the failing tests in the auth module"])
def test_same_seed_gives_same_names(prompt: str) -> None:
    assert generate_task_name(prompt, random.Random(1)) == generate_task_name(prompt, random.Random(1))


# Short words over a small alphabet push prompts through the word-boundary and byte-budget cuts.
WORDY_TEXT = st.text(alphabet="ab é日ßɐ\n\t-!_", min_size=20, max_size=300)


@given(prompt=st.one_of(st.text(), WORDY_TEXT), seed=st.integers(min_value=0, max_value=2**32))
def test_any_prompt_gives_a_valid_name_and_a_64_byte_display_name(prompt: str, seed: int) -> None:
    name, display_name = generate(prompt, seed)
    assert name_error(name) is None
    assert display_name
    assert utf8_length(display_name) <= DISPLAY_NAME_MAX_BYTES
