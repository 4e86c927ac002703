"""The DSL parser is built once per machine and loaded from the user's cache after that
(`metricspec.parse.grammar_cache`): the loaded parser parses exactly as a built one, a
cache file anyone else could have written is never loaded, and no usable cache folder
means building, not failing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lark import Lark

from metricspec.parse import grammar_cache
from metricspec.parse.dsl import FRAGMENTS
from metricspec.resources import grammar_path

REPO = Path(__file__).resolve().parents[2]
OPTIONS = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True,
           "maybe_placeholders": False, "start": ["start", *FRAGMENTS]}


@pytest.fixture
def grammar() -> str:
    return grammar_path().read_text(encoding="utf-8")


def _cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grammar: str) -> Lark:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return grammar_cache.cached_lark(grammar, **OPTIONS)


def test_a_loaded_parser_parses_as_a_built_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               grammar: str) -> None:
    built = _cached(tmp_path, monkeypatch, grammar)
    [saved] = (tmp_path / "metricspec").glob("grammar-*.lark")
    real, used = Lark.load.__func__, []  # type: ignore[attr-defined]
    monkeypatch.setattr(Lark, "load", classmethod(lambda cls, fh: used.append(fh) or real(cls, fh)))
    loaded = _cached(tmp_path, monkeypatch, grammar)
    assert used and loaded is not built  # read from the cache, not built again
    for spec in sorted((REPO / "specs").rglob("*.mspec")):
        text = spec.read_text(encoding="utf-8")
        assert loaded.parse(text, start="start") == built.parse(text, start="start"), spec
    with pytest.raises(Exception) as from_built:
        built.parse("metric m = count(", start="start")
    with pytest.raises(Exception) as from_loaded:
        loaded.parse("metric m = count(", start="start")
    assert str(from_loaded.value) == str(from_built.value)
    assert oct(saved.stat().st_mode & 0o777) == oct(0o600)


def test_a_cache_file_others_may_write_is_not_loaded(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     grammar: str) -> None:
    _cached(tmp_path, monkeypatch, grammar)
    [saved] = (tmp_path / "metricspec").glob("grammar-*.lark")
    saved.write_bytes(b"not a pickle")
    os.chmod(saved, 0o666)
    loaded = []
    monkeypatch.setattr(Lark, "load", classmethod(lambda cls, fh: loaded.append(fh)))
    parser = _cached(tmp_path, monkeypatch, grammar)
    assert not loaded  # never even opened as a pickle
    text = (REPO / "specs" / "quality.mspec").read_text(encoding="utf-8")
    assert parser.parse(text, start="start").data == "start"
    assert oct(saved.stat().st_mode & 0o777) == oct(0o600)  # replaced by a private one


def test_no_usable_cache_folder_builds_the_parser(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  grammar: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go", encoding="utf-8")
    parser = _cached(blocker, monkeypatch, grammar)
    assert isinstance(parser, Lark)
    assert not (tmp_path / "metricspec").exists()
