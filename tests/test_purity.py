"""The pure core imports no I/O library: it is tested directly and fast."""

import subprocess
import sys

PURE = [
    "batch.core.errors",
    "batch.core.model",
    "batch.core.fields",
    "batch.core.cells",
    "batch.core.validate",
    "batch.core.plan",
    "batch.core.retry",
    "batch.core.throttle",
    "batch.core.options",
    "batch.core.window",
    "batch.core.quota",
]
IO_MODULES = ["aiohttp", "aiolimiter", "pandas", "sqlite3", "asyncio", "openpyxl", "msal"]


def test_pure_core_imports_no_io_library():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PURE)
        + f"print([m for m in {IO_MODULES!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
