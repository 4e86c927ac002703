"""Commands that write documents: plan (pre-registration) and docs (the catalog)."""

from __future__ import annotations
