"""Writing a whole file so that nobody ever reads half of it: the one way pcbatch does it.

`atomic_write(path)` hands out a file open on a temporary name in `path`'s own folder (made by
tempfile.mkstemp: a new name, never an existing file or a symlink followed). When the block ends
without an error the data is flushed and fsynced, then the file is renamed over `path` with
os.replace, which is atomic on one file system: a reader sees the old file or the new one. When
the block raises, the temporary file is removed and `path` is left as it was.

Used for the report files (text, and the workbook: `binary=True` and `book.save(file)`), the
token cache of `pcbatch login` and the stand-in's `--state-out`.

Permissions: `permissions` when given (0o600 for a file holding a secret or customers' data);
otherwise what `open(path, "w")` would give, 0o666 less the process's umask.

A run's --out is private (`private_dir`): created 0700, refused when another user owns it or
others may write to it; every file in it is 0600 and opened without following a symlink
(`open_private`), so a link planted there never redirects customers' data elsewhere.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Literal, overload

from batch.core.errors import ConfigError

PRIVATE_FILE = 0o600  # every file in --out: the journal, the lock, the report files
PRIVATE_DIR = 0o700

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


def private_dir(path: Path, *, create: bool = True, option: str = "--out") -> Path:
    """Make sure `path` is a private directory of this user: create it 0700 if missing
    (create=False: a missing one is left missing, for checks before anything is made).
    option: the option that named it, for the messages (--out, --state).

    Raises ConfigError (exit 2) naming what to fix when it is not a directory (a symlink
    included), is owned by another user, or may be written by group or others: files planted
    there could replace the run's journal or read its customers' data.
    """
    path = Path(path)
    try:
        if not create and not os.path.lexists(path):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=PRIVATE_DIR)
            if os.name == "posix":
                os.chmod(path, PRIVATE_DIR)  # mkdir's mode is reduced by the umask
            return path
        except FileExistsError:
            pass
        info = os.lstat(path)
    except OSError as exc:
        raise ConfigError(f"{option} {path} cannot be created: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a directory"
        raise ConfigError(f"{option} {path} is {kind}: give a directory of your own")
    if os.name == "posix":
        if info.st_uid != os.geteuid():
            raise ConfigError(
                f"{option} {path} belongs to another user (uid {info.st_uid}): its files could be "
                "read or replaced by them; use a directory of your own"
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigError(
                f"{option} {path} may be written by other users (mode "
                f"{stat.S_IMODE(info.st_mode):o}): they could plant files in it; "
                f"`chmod go-w {path}` (or 700), or use another {option}"
            )
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path} cannot be written by this user: fix its permissions")
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open of a file in a private directory: mode 0600, never through a symbolic link.

    flags: os.O_RDWR | os.O_CREAT and the like; O_NOFOLLOW is added. An existing file of this
    user gets 0600 too. Raises ConfigError (exit 2) when `path` is a symbolic link.
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags | nofollow, PRIVATE_FILE)
    except OSError as exc:
        if os.path.islink(path):
            raise ConfigError(
                f"{path} is a symbolic link: pcbatch never writes through one; remove it"
            ) from exc
        raise
    if os.name == "posix":
        os.fchmod(descriptor, PRIVATE_FILE)
    return descriptor
