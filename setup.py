"""Map the repository's top-level folders into the single `speedledger` import namespace.

`central/` installs as `speedledger.central`, `edge/` as `speedledger.edge`, and so on (the folders
are listed in speedledger/layout.py); nothing installs a top-level `shared` or `central` module.
Metadata lives in pyproject.toml.
"""

import runpy
from pathlib import Path

from setuptools import find_namespace_packages, setup

SUBPACKAGES = runpy.run_path(str(Path(__file__).parent / "speedledger" / "layout.py"))["SUBPACKAGES"]

package_dir = {"speedledger": "speedledger"}
packages = ["speedledger"]
for folder in SUBPACKAGES:
    package_dir[f"speedledger.{folder}"] = folder
    packages.append(f"speedledger.{folder}")
    # Namespace discovery includes data-only folders (the dashboard's templates/ and static/), so their
    # package-data ships without setuptools' "package would be ignored" warning.
    packages += [
        f"speedledger.{folder}.{sub}"
        for sub in find_namespace_packages(folder, exclude=["__pycache__", "*.__pycache__"])
    ]

setup(package_dir=package_dir, packages=packages)
