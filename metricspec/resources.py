"""Find the files metricspec ships beside its code: the grammar and the backend definitions.

In a checkout they are the top-level `grammar/` and `backends/` folders; in an installed wheel
they are packaged as `metricspec/_resources/grammar` and `metricspec/_resources/backends`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    """Return the folder holding the shipped resource `name` (`grammar` or `backends`)."""
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"metricspec cannot find its `{name}` folder; the installation is incomplete "
        f"(looked in {_PACKAGE / '_resources' / name} and {_PACKAGE.parent / name})"
    )


def grammar_path() -> Path:
    return resource_dir("grammar") / "metricspec.lark"


def backends_dir() -> Path:
    return resource_dir("backends")


def example_specs_dir() -> Path:
    """The example spec repository (`specs/` in a checkout, bundled in the wheel)."""
    return resource_dir("specs")
