"""libyaml reads YAML spec files when it can; ruamel reads the rest. Both must give the same
values, places and diagnostics: here every YAML file of the corpora, and small mutations of
them, is composed both ways and compared."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from metricspec.parse import yaml_events, yaml_nodes
from metricspec.parse.yaml_values import YMap, YSeq

ROOT = Path(__file__).resolve().parents[2]

def _texts() -> list[str]:
    out = []
    for folder in ("tests", "examples"):
        for path in sorted((ROOT / folder).rglob("*.y*ml")):
            try:
                out.append(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:  # the corpus's files that are not UTF-8
                continue
    return out


TEXTS = _texts()

pytestmark = pytest.mark.skipif(not yaml_events.fast_available(), reason="PyYAML without libyaml")


def _shape(value: Any) -> Any:
    """The value with every place it remembers, for comparison."""
    if isinstance(value, YMap):
        return ("map", value.place, [(k, value.key_places[k], value.value_places[k], _shape(v))
                                     for k, v in value.items()])
    if isinstance(value, YSeq):
        return ("seq", value.place, list(value.item_places), [_shape(v) for v in value])
    return repr(value)


def _both_ways(text: str) -> tuple[Any, Any]:
    fast = yaml_nodes.read_yaml(text, "f.yaml")
    slow = yaml_nodes._Composer(text, "f.yaml").run()
    return (_shape(fast.root), fast.diagnostics), (_shape(slow.root), slow.diagnostics)


def test_the_corpora_read_the_same_both_ways() -> None:
    assert TEXTS
    read_fast = 0
    for text in TEXTS:
        fast, slow = _both_ways(text)
        assert fast == slow, text
        try:
            list(yaml_events.libyaml_events(text))
            read_fast += 1
        except yaml_events.Slow:
            pass
    assert read_fast > len(TEXTS) // 3  # the fast path is taken, not only the fallback


def test_mutated_files_read_the_same_both_ways() -> None:
    rng = random.Random(16)
    read_fast = 0
    pieces = [*":-[]{},&*!|>'\"# \n", "<<", "*a", "&a ", "key:", "\n  ", "\r\n", "\x85", "\t"]
    for _ in range(400):
        chars = list(rng.choice(TEXTS))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5:
                chars.insert(at, rng.choice(pieces))
            elif chars:
                del chars[min(at, len(chars) - 1)]
        text = "".join(chars)
        fast, slow = _both_ways(text)
        assert fast == slow, text
        try:
            list(yaml_events.libyaml_events(text))
            read_fast += 1
        except yaml_events.Slow:
            pass
    assert read_fast > 100  # mutations libyaml takes too, not only ruamel against itself


@pytest.mark.parametrize("text", [
    "a: [x,\ty]\n",           # a tab: libyaml accepts it where ruamel does not
    "a:\nb: 1\n",             # an empty value: placed differently by the two
    "a: &x:y 1\nb: *x:y\n",   # an anchor name with a colon: cut short by libyaml
    "a: 1\u2028b: 2\n",       # a YAML 1.1 line break
])
def test_texts_the_parsers_read_differently_go_to_ruamel(text: str) -> None:
    """libyaml refuses them, so `read_yaml` can only give ruamel's reading."""
    with pytest.raises(yaml_events.Slow):
        list(yaml_events.libyaml_events(text))
