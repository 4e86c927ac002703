"""Run the doctests of every module of the demo generator."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import metricspec.demo

MODULES = sorted(m.name for m in pkgutil.iter_modules(metricspec.demo.__path__, "metricspec.demo."))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
