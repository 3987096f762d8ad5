"""YAML from untrusted text (fixture files, `PUT /__fake__/state`), within fixed bounds.

Before anything recursive or expanding sees a document, one pass over libyaml's event
stream (a state machine: it cannot overflow the stack) measures it, and refuses:

- nesting deeper than `MAX_DEPTH` (the composer, the line map and the validator recurse);
- aliases that would add more than `MAX_ALIAS_NODES` nodes once expanded (a 400-byte
  "billion laughs" document otherwise takes minutes and gigabytes to validate);
- an alias inside the block it names (`&a {again: *a}`): a loop, which no JSON can hold, so the
  world could never be exported or answered with.

Anchors and aliases within that bound stay allowed: fixture authors use them to share blocks.
"""

from __future__ import annotations

import yaml

from fakeserver.spec import FAST_YAML_LOADER

MAX_DEPTH = 64
MAX_ALIAS_NODES = 1_000_000


class YAMLTooComplex(ValueError):
    """The document is well-formed but past a bound; the message says which."""

    def __init__(self, reason: str, line: int) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}")


def check_shape(text: str) -> None:
    """Raise `YAMLTooComplex` for a document past the bounds, `yaml.YAMLError` for broken syntax."""
    sizes: dict[str, int] = {}  # anchor -> nodes in the anchored subtree, aliases expanded
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes so far) of each open collection
    added_by_aliases = 0
    for event in yaml.parse(text, Loader=FAST_YAML_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append((event.anchor, 1))
            if len(open_nodes) > MAX_DEPTH:
                raise YAMLTooComplex(f"nested deeper than {MAX_DEPTH} levels", _line(event))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = open_nodes.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, nodes = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            if any(open_anchor == event.anchor for open_anchor, _ in open_nodes):
                reason = f"the alias *{event.anchor} stands inside the block it names: a fixture cannot loop"
                raise YAMLTooComplex(reason, _line(event))
            anchor, nodes = None, sizes.get(event.anchor or "", 1)
            added_by_aliases += nodes
            if added_by_aliases > MAX_ALIAS_NODES:
                reason = f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes"
                raise YAMLTooComplex(reason, _line(event))
        else:
            continue
        if anchor is not None:
            sizes[anchor] = nodes
        if open_nodes:
            parent_anchor, parent_nodes = open_nodes[-1]
            open_nodes[-1] = (parent_anchor, parent_nodes + nodes)


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 0
