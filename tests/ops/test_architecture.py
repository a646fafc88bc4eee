"""The architecture contract (.importlinter, checked by import-linter) holds, and bites.

Apps import only apps to their right: reports | observability -> payments -> orders ->
inventory -> catalog -> accounts -> outbox (config sits on top of them all). Services queue
tasks by name through the outbox and never import a tasks module, so services and tasks
cannot import each other.
"""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _root_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_project_keeps_its_import_contracts():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_app_of_ours_is_under_the_contract():
    ours = {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(ROOT)
        and not Path(config.path).is_relative_to(Path(sys.prefix).resolve())  # a .venv in ROOT
    }
    assert ours <= set(_root_packages()), "add new apps to .importlinter (root_packages, layers)"


def _copy_project(tmp_path: Path) -> Path:
    for package in _root_packages():
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_an_app_importing_one_to_its_left_breaks_the_build(tmp_path):
    project = _copy_project(tmp_path)
    _append(project / "catalog" / "selectors.py", "from orders import models as _orders")
    _append(project / "outbox" / "services.py", "from accounts import models as _accounts")

    result = _lint(project)

    assert result.returncode != 0
    assert "catalog is not allowed to import orders" in result.stdout
    assert "outbox is not allowed to import accounts" in result.stdout


def test_an_app_importing_config_breaks_the_build(tmp_path):
    project = _copy_project(tmp_path)
    _append(project / "orders" / "selectors.py", "from config import api as _api")

    result = _lint(project)

    assert result.returncode != 0
    assert "orders is not allowed to import config" in result.stdout


def test_services_importing_tasks_breaks_the_build(tmp_path):
    project = _copy_project(tmp_path)
    _append(project / "inventory" / "services" / "levels.py", "from .. import tasks as _tasks")

    result = _lint(project)

    assert result.returncode != 0
    assert "inventory.services is not allowed to import inventory.tasks" in result.stdout
