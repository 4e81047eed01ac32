"""Map the repository's top-level folders into the single `speedledger` import namespace.

`central/` installs as `speedledger.central`, `edge/` as `speedledger.edge`, and so on (the folders
are listed in speedledger/layout.py); nothing installs a top-level `shared` or `central` module.
Metadata lives in pyproject.toml.
"""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

SUBPACKAGES = runpy.run_path(str(Path(__file__).parent / "speedledger" / "layout.py"))["SUBPACKAGES"]

package_dir = {"speedledger": "speedledger"}
packages = ["speedledger"]
for folder in SUBPACKAGES:
    package_dir[f"speedledger.{folder}"] = folder
    packages.append(f"speedledger.{folder}")
    packages += [f"speedledger.{folder}.{sub}" for sub in find_packages(folder)]

setup(package_dir=package_dir, packages=packages)
