"""The chain function's zip: the worker's source and nothing else, enough to run on the bare Lambda runtime."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

from local_stack.lambda_service.python_runtime import build_runtime
from platform_defs.deploy import PACKAGE_DIR, build_zip


def zip_names(package: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(package)).namelist()


def test_the_zip_lists_the_worker_source_only_and_is_reproducible() -> None:
    names = zip_names(build_zip())
    assert "lambda_workers/__init__.py" in names and "lambda_workers/handler.py" in names
    assert all(name.startswith("lambda_workers/") and name.endswith(".py") for name in names)
    assert not any("__pycache__" in name or "/test" in name or "conftest" in name for name in names)
    assert names == sorted(names)
    assert build_zip() == build_zip()


def test_caches_tests_and_hidden_files_stay_out(tmp_path: Path) -> None:
    copy = tmp_path / "lambda_workers"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    strays = {
        "__pycache__/handler.cpython-311.pyc": "",
        "chain/__pycache__/runner.py": "",
        "tests/helpers.py": "",
        "chain/test_budget.py": "",
        "sources/http_test.py": "",
        "conftest.py": "",
        ".#handler.py": "",
        ".ipynb_checkpoints/handler.py": "",
        "notes.txt": "",
    }
    for name, text in strays.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(text)
    assert zip_names(build_zip(copy)) == zip_names(build_zip())


def test_every_module_of_the_zip_imports_on_the_bare_runtime(tmp_path: Path) -> None:
    """Only the zip, boto3 and the standard library on the path, as on AWS: no import may fail."""
    package = build_zip()
    task_root = tmp_path / "task"
    zipfile.ZipFile(io.BytesIO(package)).extractall(task_root)
    runtime = build_runtime(tmp_path / "runtime")
    modules = [name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in zip_names(package)]
    code = (
        "import importlib, sys\n"
        f"sys.path[:0] = [{str(task_root)!r}, {str(runtime.directory)!r}]\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
    )
    result = subprocess.run(
        [runtime.interpreter, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, env={}
    )
    assert result.returncode == 0, result.stderr
