"""Go's text conventions where coderd's messages show them: `%q` quoting and `strconv.ParseBool`."""

from __future__ import annotations

import unicodedata
from typing import Final

_GO_ESCAPES: Final[dict[str, str]] = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}

GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class GoBoolError(ValueError):
    """strconv.ParseBool's error, worded as Go's `err.Error()`."""

    def __init__(self, value: str) -> None:
        super().__init__(f"strconv.ParseBool: parsing {go_quote(value)}: invalid syntax")


def parse_go_bool(value: str) -> bool:
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise GoBoolError(value)


def go_quote(text: str) -> str:
    """Quote `text` like Go's `%q`, because the server's details embed values that way."""
    return '"' + "".join(_go_escape(char) for char in text) + '"'


def _go_escape(char: str) -> str:
    if char in _GO_ESCAPES:
        return _GO_ESCAPES[char]
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    if char == " " or unicodedata.category(char)[0] in "LMNPS":
        return char
    code_point = ord(char)
    if code_point < 0x20 or code_point == 0x7F:
        return f"\\x{code_point:02x}"
    if 0xD800 <= code_point <= 0xDFFF:
        # A lone surrogate is invalid UTF-8 to Go, which escapes it byte by byte.
        return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
    if code_point < 0x10000:
        return f"\\u{code_point:04x}"
    return f"\\U{code_point:08x}"
