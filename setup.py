"""Puts the files the commands need besides Python (the C runtime, board descriptions, the Dockerfile
and set-up scripts: harness.resources.DATA_ENTRIES) into the wheel as harness/_data. Everything else
about the package is in pyproject.toml."""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_utvm_resources", HERE / "harness" / "resources.py")
_resources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_resources)
SKIP = shutil.ignore_patterns("__pycache__", "*.o", "*.pyc", "tests")  # crt/tests are the repository's


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's own files
            return
        data = Path(self.build_lib) / "harness" / "_data"
        for entry in _resources.DATA_ENTRIES:
            src, dst = HERE / entry, data / entry
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=SKIP, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildPyWithData})
