"""Workspace-name validation and task-name generation, as the real Coder server does them.

`name_error` mirrors `codersdk.NameValid`; `generate_task_name` mirrors the
no-LLM path of `coderd/taskname.Generate` (derive a name from the prompt, else
fall back to a Docker-style random name). Both stay pure: the caller passes the
`random.Random` so a seeded fake produces the same names on every run.
"""

from __future__ import annotations

import random
import re

NAME_MAX_LENGTH = 32
DISPLAY_NAME_MAX_BYTES = 64

# A task name is "<stem>-xxxx"; the stem gets whatever the suffix leaves of the limit (27).
_SUFFIX_LENGTH = len("-ffff")
_STEM_MAX_LENGTH = NAME_MAX_LENGTH - _SUFFIX_LENGTH
_ELLIPSIS = "…"

_VALID_NAME = re.compile(r"[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*")
_RESERVED_NAMES = frozenset({"new", "create"})  # they would clash with routes like /templates/new

# The Go code only folds these into spaces before truncating the name.
_LINE_BREAKS = re.compile(r"[\n\r\t]+")
# Go's RE2 `\s` is ASCII-only, so e.g. a no-break space is dropped rather than becoming a hyphen.
_ASCII_WHITESPACE = re.compile(r"[\t\n\f\r ]+")
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9-]+")
_HYPHEN_RUNS = re.compile(r"-+")

# A subset of moby's namesgenerator word lists ("<adjective>_<notable scientist>").
# fmt: off
_RANDOM_ADJECTIVES: tuple[str, ...] = (
    "admiring", "adoring", "affectionate", "amazing", "awesome", "blissful", "bold", "brave", "charming", "clever",
    "compassionate", "confident", "cool", "dazzling", "determined", "dreamy", "eager", "ecstatic", "elegant",
    "eloquent", "epic", "festive", "focused", "friendly", "gallant", "gifted", "gracious", "happy", "hopeful",
    "inspiring", "jolly", "keen", "kind", "loving", "lucid", "modest", "nifty", "optimistic", "peaceful", "serene",
    "sharp", "vibrant", "vigilant", "wonderful", "zealous",
)
_RANDOM_SURNAMES: tuple[str, ...] = (
    "archimedes", "babbage", "bardeen", "bohr", "curie", "darwin", "dijkstra", "einstein", "euclid", "fermat",
    "feynman", "franklin", "galileo", "goodall", "hamilton", "hawking", "heisenberg", "hopper", "hypatia", "johnson",
    "kepler", "knuth", "lalande", "lamarr", "lovelace", "mayer", "mcclintock", "meitner", "newton", "noether",
    "pasteur", "ramanujan", "ritchie", "shannon", "tesla", "thompson", "turing", "wozniak", "wright", "yonath",
)
# fmt: on


def name_error(name: str) -> str | None:
    """codersdk.NameValid: None when valid, else the detail string."""
    # Go's len() counts bytes, which decides which message a non-ASCII name gets.
    if _utf8_length(name) > NAME_MAX_LENGTH:
        return f"must be <= {NAME_MAX_LENGTH} characters"
    if not name:
        return "must be >= 1 character"
    if name in _RESERVED_NAMES:
        return f'cannot use "{name}" as a name'
    if _VALID_NAME.fullmatch(name) is None:
        return "must be alphanumeric with hyphens"
    return None


def complete_names(name: str, display_name: str, prompt: str, rng: random.Random) -> tuple[str, str]:
    """The given name and display name, each generated from the prompt when it is empty."""
    if name and display_name:
        return name, display_name
    generated_name, generated_display_name = generate_task_name(prompt, rng)
    return name or generated_name, display_name or generated_display_name


def generate_task_name(prompt: str, rng: random.Random) -> tuple[str, str]:
    """(name, display_name) derived from the prompt, as coderd/taskname does without an LLM."""
    stem = _name_stem_from_prompt(prompt)
    display_name = _display_name_from_prompt(prompt)
    if not stem:
        stem = _random_name_stem(rng)
        display_name = display_name or _display_name_from_stem(stem)
    return f"{stem}-{rng.getrandbits(16):04x}", display_name


def _name_stem_from_prompt(prompt: str) -> str:
    """The prompt's leading words as lowercase hyphenated ASCII; empty when nothing usable is left."""
    # A substitution costs microseconds a match even when it changes nothing: the two that most
    # prompts need nothing of are made only when there is something to fold.
    if _LINE_BREAKS.search(prompt):
        prompt = _LINE_BREAKS.sub(" ", prompt)
    text = _truncate_at_word(prompt, _STEM_MAX_LENGTH)
    stem = _ASCII_WHITESPACE.sub("-", text.lower())
    stem = _NOT_NAME_CHARACTERS.sub("", stem)
    if "--" in stem:
        stem = _HYPHEN_RUNS.sub("-", stem)
    return _fit_stem(stem.strip("-"))


def _display_name_from_prompt(prompt: str) -> str:
    """The whitespace-normalised prompt, capitalised and cut to the display-name byte budget."""
    text = _capitalize_first(" ".join(prompt.split()))
    # Capitalise before cutting: uppercasing can lengthen a character ("ß" -> "SS").
    return _truncate_to_bytes_at_word(text, DISPLAY_NAME_MAX_BYTES)


def _random_name_stem(rng: random.Random) -> str:
    """A Docker-style name such as "admiring-turing", for prompts that yield no usable name."""
    adjective = rng.choice(_RANDOM_ADJECTIVES)
    surname = rng.choice(_RANDOM_SURNAMES)
    return _fit_stem(f"{adjective}-{surname}")


def _display_name_from_stem(stem: str) -> str:
    return " ".join(word.capitalize() for word in stem.split("-"))


def _fit_stem(stem: str) -> str:
    """Cap the stem so stem + suffix is a valid name; guards the invariant whatever the source."""
    return stem[:_STEM_MAX_LENGTH].rstrip("-")


def _capitalize_first(text: str) -> str:
    # Unlike str.capitalize(), the rest of the text keeps its case ("API" stays "API").
    return text[:1].upper() + text[1:]


def _truncate_at_word(text: str, max_chars: int) -> str:
    """strutil.Truncate(text, n, TruncateWithFullWords): cut at the last space within the limit.

    Like Go, a text with no space inside the limit is cut mid-word, and the space is looked
    for only among the first `max_chars` characters.
    """
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    boundary = _last_space_index(head)
    return head if boundary < 0 else head[:boundary]


def _truncate_to_bytes_at_word(text: str, max_bytes: int) -> str:
    """Like `_truncate_at_word` plus an ellipsis, but budgeted in UTF-8 bytes rather than characters."""
    if _utf8_length(text) <= max_bytes:
        return text
    head = _utf8_prefix(text, max_bytes - _utf8_length(_ELLIPSIS))
    boundary = _last_space_index(head)
    if boundary > 0:
        head = head[:boundary]
    return head + _ELLIPSIS


def _last_space_index(text: str) -> int:
    return max((index for index, char in enumerate(text) if char.isspace()), default=-1)


def _utf8_prefix(text: str, max_bytes: int) -> str:
    """The longest whole-character prefix of `text` that fits in `max_bytes` of UTF-8."""
    used = 0
    for index, char in enumerate(text):
        used += _utf8_length(char)
        if used > max_bytes:
            return text[:index]
    return text


def _utf8_length(text: str) -> int:
    # JSON bodies can decode to lone surrogates; count them (3 bytes) instead of raising.
    return len(text.encode("utf-8", "surrogatepass"))
