"""An engine that cannot start skips its tests locally and fails them in CI."""

from __future__ import annotations

import pytest
from harness import postgres_engine
from harness.base import REQUIRE_ENV, EngineUnavailable, start_or_skip


def _broken() -> postgres_engine.PostgresEngine:
    raise EngineUnavailable("no binaries here")


def test_unavailable_engine_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL unavailable: no binaries here"):
        start_or_skip(_broken, "PostgreSQL")


def test_unavailable_engine_fails_when_engines_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="METRICSPEC_REQUIRE_ENGINES=1"):
        start_or_skip(_broken, "PostgreSQL")


def test_missing_postgres_binaries_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_engine.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres_engine.shutil, "which", lambda name: None)
    with pytest.raises(EngineUnavailable, match="apt-get install postgresql"):
        postgres_engine.find_bindir()
