"""The pure core imports no I/O library: the boundary is the batch/core package, not a list.

Each check runs in a fresh interpreter, so that nothing another test imported counts.
"""

import json
import pkgutil
import subprocess
import sys

import batch.core

IO_MODULES = ["aiohttp", "aiolimiter", "sqlite3", "openpyxl", "pandas", "msal", "asyncio"]


def loaded_after(code: str) -> list[str]:
    """The I/O modules in sys.modules after running `code` in a fresh interpreter."""
    report = f"print(json.dumps([m for m in {IO_MODULES!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{report}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def core_modules() -> list[str]:
    """Every module of batch/core, subpackages included, found by walking the package."""
    found = pkgutil.walk_packages(batch.core.__path__, prefix="batch.core.")
    return sorted(module.name for module in found)


def test_the_core_package_has_the_modules_of_the_pure_decisions():
    # The walk finds what is on disk: a module moved out of core would drop out of the check.
    names = set(core_modules())
    for name in ("model", "plan", "retry", "stops", "resume", "throttle", "validate"):
        assert f"batch.core.{name}" in names


def test_every_module_of_the_core_imports_no_io_library():
    imports = "".join(f"import {name}\n" for name in ["batch.core", *core_modules()])
    assert loaded_after(imports) == []


def test_the_signal_handling_loads_no_network_or_journal_library():
    # It needs Stop and the errors, not the engine: a CLI that only sets up signals stays light.
    assert set(loaded_after("import batch.engine.interrupt")).isdisjoint(
        {"aiohttp", "aiolimiter", "sqlite3"}
    )
