"""The wheel ships what the CLI needs: build it, install it in a fresh virtual environment,
and run `metricspec check` on a copy of `specs/` outside the checkout.

Offline-safe: the wheel is built without build isolation (hatchling from this environment)
and installed with `--no-index --no-deps`; the fresh environment reaches the third-party
dependencies through a `.pth` line naming this environment's site-packages (which holds no
importable `metricspec` of its own there: the editable install's hook is not processed from
a `.pth`-added folder), so `metricspec` itself can only come from the installed wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the freshly built wheel installed; its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    built = run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist,
                 REPO], cwd=root)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = dist.glob("metricspec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "metricspec/_resources/grammar/metricspec.lark" in names
    assert any(n.startswith("metricspec/_resources/backends/") and n.endswith(".toml")
               for n in names)

    venv = root / "venv"
    made = run([sys.executable, "-m", "venv", venv], cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd=root).stdout.strip()
    Path(site, "_metricspec_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    pip = run([python, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", wheel],
              cwd=root)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv / "bin"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(REPO)))
    return env


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder outside the checkout holding a copy of `specs/`."""
    work = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(REPO / "specs", work / "specs")
    assert REPO not in work.parents
    return work


def test_the_installed_cli_checks_the_example_specs(installed: Path, outside: Path) -> None:
    done = run([installed / "metricspec", "check", "specs"], cwd=outside, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 error(s)" in done.stdout


def test_grammar_and_backends_come_from_the_installed_package(installed: Path,
                                                              outside: Path) -> None:
    code = ("import metricspec, metricspec.resources as r; print(metricspec.__file__); "
            "print(r.resource_dir('grammar')); print(r.resource_dir('backends'))")
    done = run([installed / "python", "-c", code], cwd=outside, env=clean_env())
    assert done.returncode == 0, done.stderr
    package, grammar, backends = (Path(line) for line in done.stdout.split())
    venv = installed.parent
    assert venv in package.parents and REPO not in package.parents
    assert grammar == package.parent / "_resources" / "grammar"
    assert backends == package.parent / "_resources" / "backends"
    assert (grammar / "metricspec.lark").is_file() and list(backends.glob("*.toml"))


def test_the_installed_cli_reports_errors_and_uses_the_backends(installed: Path,
                                                                outside: Path) -> None:
    broken = outside / "broken.mspec"
    broken.write_text("metric revenue = sum(orders.amount) +* 2\n", encoding="utf-8")
    done = run([installed / "metricspec", "check", broken.name, "--format", "json"],
               cwd=outside, env=clean_env())
    assert done.returncode == 1, done.stdout + done.stderr
    assert '"MS101"' in done.stdout
    done = run([installed / "metricspec", "check", "specs", "--dialect", "bigquery",
                "--format", "json"], cwd=outside, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"MS701"' in done.stdout


def test_the_installed_cli_scaffolds_a_project(installed: Path, outside: Path) -> None:
    """`init` takes its example specs and schema from the installed package."""
    project = outside / "new-project"
    done = run([installed / "metricspec", "init", project.name], cwd=outside, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    done = run([installed / "metricspec", "check"], cwd=project, env=clean_env())
    assert done.returncode == 0 and "0 error(s)" in done.stdout, done.stdout + done.stderr
