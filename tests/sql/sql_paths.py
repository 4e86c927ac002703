"""Constants shared by the SQL tests (a uniquely named module: every test folder has its own
`conftest`, so `from conftest import …` would pick whichever was imported first)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UPDATE_ENV = "METRICSPEC_UPDATE_GOLDEN"
