"""The dev extra brings the HTTP client Starlette's `TestClient` wants: the API tests run without its
deprecation warning (fixed at the dependency, not filtered)."""

import subprocess
import sys


def test_the_test_client_imports_without_a_warning() -> None:
    code = "import warnings; warnings.simplefilter('error'); import fastapi.testclient"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr.strip().splitlines()[-1]
