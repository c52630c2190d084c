"""Ships the top-level templates/ and config.toml inside the wheel.

The repository keeps templates/ and config.toml at the top level, where people look for
them; an installed broker has no top level, so the build copies them into the `broker`
package (broker/templates/, broker/config.toml), where `broker.config.resource` finds
them. Every folder under templates/ goes, so a feature's new templates need nothing here.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# What the top level lends the package: (source, where it goes inside `broker`).
SHIPPED = (("templates", "templates"), ("config.toml", "config.toml"))


class BuildWithTemplates(build_py):
    """build_py, plus templates/ and config.toml copied into the built `broker` package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them where they are
        target = Path(self.build_lib) / "broker"
        for source, name in SHIPPED:
            origin, copy = HERE / source, target / name
            if origin.is_dir():
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(origin, copy, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, copy)


setup(cmdclass={"build_py": BuildWithTemplates})
