"""Every example in a docstring of the package runs and is right."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import metricspec

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(metricspec.__path__, "metricspec.")
    if not name.startswith("metricspec.cli") and name != "metricspec.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
