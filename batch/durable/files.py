"""Writing a file: the one way pcbatch does it, for every file it writes.

Rules (issue 28, point 1): every file pcbatch writes is private to its user; nobody else can
make it write through a link or into a file they planted.

- `atomic_write(path)` hands out a file open on a temporary name in `path`'s own folder, made by
  tempfile.mkstemp: a random name no one can predict, opened O_CREAT|O_EXCL|O_NOFOLLOW (never an
  existing file, never through a symlink), mode 0600. The caller may stream into it for as long
  as it likes (an export of 100,000 rows). When the block ends without an error the data is
  flushed and fsynced, then the file is renamed over `path` with os.replace, which is atomic on
  one file system: a reader sees the old file or the new one. When the block raises, the
  temporary file is removed and `path` is left as it was. A process killed while it writes
  leaves its temporary file: `remove_leftovers` removes such files on the next start (the run
  in its locked --out, the export next to its OUTPUT).
- Before anything is written, `path` itself is checked (`check_target`): a symbolic link, a
  folder or device, or a file owned by another user is refused with ConfigError (exit 2). The
  rename would replace a link rather than follow it, but a link there was planted by someone, so
  pcbatch says so instead of quietly writing next to it.
- Folders pcbatch makes are 0700 (`make_dirs`, `private_dir`), never the umask's.
- A run's --out is private (`private_dir`): created 0700, refused when another user owns it or
  others may write to it. Files that must stay in place (the lock, the journal, the job state)
  are opened by `open_private`: 0600, O_NOFOLLOW, refused when not a regular file of this user.

Used for: the report files (text, and the workbook: `binary=True` and `book.save(file)`), the
export and its -errors.csv side file, the stand-in's --state-out and --write-sheet, the token
cache of `pcbatch login`, the lock, the journal and the job state.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Literal, overload

from batch.core.errors import ConfigError

PRIVATE_FILE = 0o600  # every file pcbatch writes
PRIVATE_DIR = 0o700  # every folder pcbatch makes
TEMPORARY_SUFFIX = ".tmp"
# What _atomic's mkstemp names look like: `.NAME.` + 8 random characters + `.tmp`.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


def remove_leftovers(folder: Path, names: Iterable[str] | None = None) -> int:
    """Remove the temporary files atomic_write left in `folder` (a process killed while it
    wrote): those of `names`, or of any file when names is None (a folder only pcbatch writes,
    held by its lock). Only this user's regular files; returns how many were removed. Call it
    when nothing else writes those files (the run holds its --out's lock)."""
    wanted = None if names is None else set(names)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        found = _TEMPORARY.fullmatch(entry.name)
        if found is None or (wanted is not None and found["name"] not in wanted):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            mine = os.name != "posix" or info.st_uid == os.getuid()
            if stat.S_ISREG(info.st_mode) and mine:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


@overload
def atomic_write(
    path: Path,
    *,
    binary: Literal[False] = False,
    encoding: str = "utf-8",
    newline: str | None = None,
    redirect: Callable[[], Path] | None = None,
) -> AbstractContextManager[IO[str]]: ...


@overload
def atomic_write(
    path: Path,
    *,
    binary: Literal[True],
    encoding: str = "utf-8",
    newline: str | None = None,
    redirect: Callable[[], Path] | None = None,
) -> AbstractContextManager[IO[bytes]]: ...


def atomic_write(
    path: Path,
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = None,
    redirect: Callable[[], Path] | None = None,
) -> AbstractContextManager[IO[str]] | AbstractContextManager[IO[bytes]]:
    """`with atomic_write(path) as f:` write f; `path` gets it all at the end (0600), or nothing.

    binary: hand out a binary file (for a workbook's save); else text in `encoding`, with
        `newline` as open() takes it ("" for the csv module).
    Raises ConfigError (exit 2) before writing anything when `path` is a symbolic link, not a
    regular file, or another user's file (check_target). Its folder must exist (make_dirs or
    private_dir make one 0700). redirect: called when the block ended well, the name to give
    the file instead of `path` (in the same folder; checked as `path` is), e.g. a partial
    export's.
    """
    return _atomic(Path(path), binary, encoding, newline, redirect)


@contextmanager
def _atomic(
    path: Path,
    binary: bool,
    encoding: str,
    newline: str | None,
    redirect: Callable[[], Path] | None,
) -> Iterator[IO[str] | IO[bytes]]:
    check_target(path)
    # mkstemp: O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, a random name.
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX
    )
    try:
        raw = os.fdopen(descriptor, "wb")
        if os.name == "posix":
            os.fchmod(descriptor, PRIVATE_FILE)
        file: IO[str] | IO[bytes] = (
            raw if binary else io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        )
        with file:
            yield file
            file.flush()
            os.fsync(raw.fileno())
        if redirect is not None:
            path = path.with_name(redirect().name)
        check_target(path)  # planted while we wrote? refuse rather than replace it
        os.replace(temporary, path)
    finally:
        # After a rename there is nothing left here; after an error, the half-written file.
        Path(temporary).unlink(missing_ok=True)


def check_target(path: Path) -> None:
    """Refuse (ConfigError, exit 2) a file pcbatch is about to write that is a symbolic link,
    not a regular file, or owned by another user; a missing one is fine."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"{path} cannot be checked ({exc.strerror})") from exc
    _refuse_unless_own_file(path, info)


def _refuse_unless_own_file(path: Path, info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(
            f"{path} is a symbolic link: pcbatch never writes through one; remove it (someone "
            "may have planted it) or pick another name"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a regular file: pick another name")
    if os.name == "posix" and info.st_uid != os.geteuid():
        raise ConfigError(
            f"{path} belongs to another user (uid {info.st_uid}): pcbatch does not write over "
            "it; remove it or pick another name"
        )


def make_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each 0700 (never the umask's); existing ones are
    left as they are. Raises ConfigError when one cannot be made."""
    path = Path(path)
    missing: list[Path] = []
    while not os.path.lexists(path) and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"the folder {folder} cannot be created: {exc.strerror}") from exc
        if os.name == "posix":
            os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is reduced by the umask


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
        if not os.path.lexists(path):
            make_dirs(path)
            return path
        info = os.lstat(path)
    except ConfigError as exc:
        raise ConfigError(f"{option} {path}: {exc}") from exc
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
    """os.open of a file that stays in place (lock, journal): mode 0600, never through a
    symbolic link, only a regular file of this user.

    flags: os.O_RDWR | os.O_CREAT and the like; O_NOFOLLOW is added. An existing file of this
    user gets 0600 too. Raises ConfigError (exit 2) when `path` is a symbolic link, not a
    regular file, or another user's.
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if not nofollow and os.path.islink(path):  # Windows: no O_NOFOLLOW, look first
        check_target(path)
    try:
        descriptor = os.open(path, flags | nofollow, PRIVATE_FILE)
    except OSError:
        if os.path.islink(path):
            check_target(path)  # raises, naming the link
        raise
    try:
        _refuse_unless_own_file(Path(path), os.fstat(descriptor))
        if os.name == "posix":
            os.fchmod(descriptor, PRIVATE_FILE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
