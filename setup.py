"""Map the repository's top-level folders into the single `speedledger` import namespace.

`central/` installs as `speedledger.central`, `edge/` as `speedledger.edge`, and so on; nothing
installs a top-level `shared` or `central` module. Metadata lives in pyproject.toml.
"""

from setuptools import find_packages, setup

SUBPACKAGE_FOLDERS = ("central", "edge", "simulator", "shared")

package_dir = {"speedledger": "speedledger"}
packages = ["speedledger"]
for folder in SUBPACKAGE_FOLDERS:
    package_dir[f"speedledger.{folder}"] = folder
    packages.append(f"speedledger.{folder}")
    packages += [f"speedledger.{folder}.{sub}" for sub in find_packages(folder)]

setup(package_dir=package_dir, packages=packages)
