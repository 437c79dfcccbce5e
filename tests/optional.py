"""Optional test dependencies: skip where one is missing, fail under ``SEQLRP_REQUIRE_TEST_DEPS=1``.

Some tests compare seqlrp with packages it does not need at run time (Zennit, LXT, ONNX,
bpnet-lite, gReLU, ...). The Makefile installs them, several with ``pip install --no-deps``, so
a broken install would turn whole test files into skips that ``-ra`` lists but nothing fails on.
With ``SEQLRP_REQUIRE_TEST_DEPS=1`` a missing one fails the test instead, naming the package and
the line that installs it. Use::

    lxt = need("lxt.explicit.functional")   # the module, or skip / fail
    need_spec("zennit")                      # installed? (checked without importing it)
    if available("onnx2torch"): ...          # an optional part of a test
    @requires("onnx", "onnx2torch")          # a test that needs them (decorator)
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os

import pytest

REQUIRE = "SEQLRP_REQUIRE_TEST_DEPS"

# top-level module -> what installs it (the Makefile's venv target runs these lines)
INSTALL = {
    "zennit": 'pip install --no-deps "zennit==0.5.1"',
    "lxt": 'pip install --no-deps "lxt==2.1"',
    "onnx": 'pip install "onnx>=1.15"',
    "onnx2torch": 'pip install --no-deps "onnx2torch>=1.5"',
    "onnxscript": 'pip install "onnxscript>=0.5"',
    "safetensors": 'pip install "safetensors>=0.4"',
    "tangermeme": 'pip install --no-deps "tangermeme==1.6.0"',
    "bpnetlite": 'pip install --no-deps "bpnet-lite==1.1.0"',
    "grelu": 'pip install --no-deps "grelu==1.1.0"',
    "enformer_pytorch": 'pip install --no-deps "enformer-pytorch==0.8.12" "einops==0.8.2"',
    "einops": 'pip install --no-deps "einops==0.8.2"',
    "snakemake_executor_plugin_slurm": 'pip install -e ".[test]"',
    "playwright": 'pip install -e ".[test]"',
}


def required() -> bool:
    """Whether missing optional dependencies fail (``SEQLRP_REQUIRE_TEST_DEPS=1``) rather than skip."""
    return os.environ.get(REQUIRE, "") == "1"


def install_line(module: str) -> str:
    """The pip line that installs ``module`` (a dotted name: its top-level package counts)."""
    top = module.split(".")[0]
    return INSTALL.get(top, f"pip install {top}")


def missing(module: str, reason: str | None = None) -> None:
    """Skip the test (or the module, at import time) because ``module`` is missing; with
    ``SEQLRP_REQUIRE_TEST_DEPS=1`` fail instead. ``reason``: what went wrong, if more than absence."""
    what = f"optional test dependency {module} is not installed" + (f" ({reason})" if reason else "")
    install = f"install it with: {install_line(module)} (make venv installs every one)"
    if required():
        pytest.fail(f"{what}; {REQUIRE}=1 requires it: {install}", pytrace=False)
    pytest.skip(f"{what}; {install}", allow_module_level=True)


def need(module: str, reason: str | None = None):
    """Import and return ``module``; when it cannot be imported, :func:`missing`.

    A module that is there but fails to import (a ``--no-deps`` install missing one of its own
    dependencies) counts as missing, with the import error as the reason."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        name = getattr(err, "name", None) or ""
        absent = isinstance(err, ModuleNotFoundError) and (module == name or module.startswith(name + "."))
        missing(module, reason or (None if absent else f"import failed: {err}"))


def need_spec(*modules: str) -> None:
    """Check that ``modules`` are installed without importing them (for packages whose import needs
    stand-ins set up first); :func:`missing` for the first one that is not."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a dotted name whose parent is missing
            found = False
        if not found:
            missing(module)


def available(module: str) -> bool:
    """Whether ``module`` is installed, for a part of a test that needs it; with
    ``SEQLRP_REQUIRE_TEST_DEPS=1`` a missing one fails the test instead of returning False."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found and required():
        missing(module)
    return found


def requires(*modules: str):
    """Decorator: the test checks :func:`need_spec` (``modules``) before it runs (a skipif mark
    that fails under ``SEQLRP_REQUIRE_TEST_DEPS=1``)."""

    def decorate(test):
        @functools.wraps(test)
        def checked(*args, **kwargs):
            need_spec(*modules)
            return test(*args, **kwargs)

        return checked

    return decorate


#: Debian package of each program the tests run (the Makefile's system-deps target installs them).
PROGRAMS = {"chromium": "chromium", "tabix": "tabix"}


def need_program(name: str, found: str | None = None) -> str:
    """The path of program ``name`` (or ``found``, when the caller located it another way); when it is
    missing, skip, or fail under ``SEQLRP_REQUIRE_TEST_DEPS=1`` with the Debian package to install."""
    import shutil

    path = found or shutil.which(name)
    if path:
        return path
    what = f"program {name} is not installed; install it with: apt-get install {PROGRAMS.get(name, name)} (make system-deps)"
    if required():
        pytest.fail(f"{what}; {REQUIRE}=1 requires it", pytrace=False)
    pytest.skip(what)
