"""Writing a whole file so that nobody ever reads half of it: the one way pcbatch does it.

`atomic_write(path)` hands out a file open on a temporary name in `path`'s own folder (made by
tempfile.mkstemp: a new name, never an existing file or a symlink followed). When the block ends
without an error the data is flushed and fsynced, then the file is renamed over `path` with
os.replace, which is atomic on one file system: a reader sees the old file or the new one. When
the block raises, the temporary file is removed and `path` is left as it was.

Used for the report files (text, and the workbook: `binary=True` and `book.save(file)`), the
token cache of `pcbatch login` and the stand-in's `--state-out`.

Permissions: `permissions` when given (0o600 for a file holding a secret); otherwise what
`open(path, "w")` would give, 0o666 less the process's umask, as the files had before.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Literal, overload

# os.umask can only be read by setting it; done once, at import, before any worker thread runs.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@overload
def atomic_write(
    path: Path,
    *,
    binary: Literal[False] = False,
    encoding: str = "utf-8",
    newline: str | None = None,
    permissions: int | None = None,
) -> AbstractContextManager[IO[str]]: ...


@overload
def atomic_write(
    path: Path,
    *,
    binary: Literal[True],
    encoding: str = "utf-8",
    newline: str | None = None,
    permissions: int | None = None,
) -> AbstractContextManager[IO[bytes]]: ...


def atomic_write(
    path: Path,
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = None,
    permissions: int | None = None,
) -> AbstractContextManager[IO[str]] | AbstractContextManager[IO[bytes]]:
    """`with atomic_write(path) as f:` write f; `path` gets it all at the end, or nothing.

    binary: hand out a binary file (for a workbook's save); else text in `encoding`, with
        `newline` as open() takes it ("" for the csv module).
    permissions: the file's mode bits; None for open()'s default (0o666 less the umask).
    """
    return _atomic(Path(path), binary, encoding, newline, permissions)


@contextmanager
def _atomic(
    path: Path, binary: bool, encoding: str, newline: str | None, permissions: int | None
) -> Iterator[IO[str] | IO[bytes]]:
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        raw = os.fdopen(descriptor, "wb")
        if os.name == "posix":
            os.fchmod(descriptor, 0o666 & ~_UMASK if permissions is None else permissions)
        file: IO[str] | IO[bytes] = (
            raw if binary else io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        )
        with file:
            yield file
            file.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, path)
    finally:
        # After a rename there is nothing left here; after an error, the half-written file.
        Path(temporary).unlink(missing_ok=True)
