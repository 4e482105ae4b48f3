"""Engines are Django-free: the CLI and the tests use them without a server or its settings."""

import subprocess
import sys

import pytest

from tests.live import ROOT

SITE = ("django", "rest_framework", "channels", "celery", "privface_site", "jobs", "accounts")

# Every module of the package, then run.py (whose UserError comes from privface_core).
IMPORT_ALL = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{module.name}")
import run
print(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2:])))
"""


@pytest.mark.parametrize("package", [
    "privface_core",
    "datasets.engine",
    "inference.engine",
    pytest.param("training.engine", marks=pytest.mark.slow),  # loads TensorFlow
    pytest.param("federation.engine", marks=pytest.mark.slow),  # TensorFlow and Flower
])
def test_an_engine_imports_nothing_of_the_site(package):
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL, package, *SITE], cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", f"{package} imports {out.stdout.strip()}"
