"""One run at a time per --out directory: an advisory lock on `out_dir/pcbatch.lock`.

How it works: the lock is the operating system's (flock on POSIX, msvcrt.locking on Windows) on
the open lock file, so it ends with the process however the process ends: a lock left by a
dead process (SIGKILL, reboot) is free, and the next run takes it over. The file holds the
holder's pid, host and start time, only to name it in the message of the run that is refused.

Traps: the file is never deleted (a run that deleted it while another was opening it would let
both in); on release it is emptied. Like the SQLite journal next to it, it wants a local disk:
advisory locks are not reliable on every network file system.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from batch.core.errors import ConfigError, RunLocked
from batch.durable.files import open_private, private_dir

LOCK_NAME = "pcbatch.lock"
# Windows locks byte ranges that others then cannot read: lock one byte far past the text.
_WINDOWS_OFFSET = 1 << 30


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a lock: as written in the lock file, None where unknown."""

    pid: int | None
    host: str | None
    started_at: str | None

    def describe(self) -> str:
        """`pid 4242 on host build-01, started 2024-05-01T02:00:00Z`."""
        pid = "pid unknown" if self.pid is None else f"pid {self.pid}"
        host = f" on host {self.host}" if self.host else ""
        started = f", started {self.started_at}" if self.started_at else ""
        return pid + host + started


def _try_lock(f: IO[str]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - not exercised on the POSIX CI
        import msvcrt

        f.seek(_WINDOWS_OFFSET)
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(f: IO[str]) -> None:
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt

        f.seek(_WINDOWS_OFFSET)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _open(path: Path) -> IO[str]:
    """The lock file for reading and writing, created 0600 if missing; never a symlink."""
    return os.fdopen(open_private(path, os.O_RDWR | os.O_CREAT), "r+", encoding="utf-8")


def _read_holder(path: Path) -> Holder:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}  # being written right now, or damaged: the lock itself is what counts
    if not isinstance(data, dict):
        data = {}
    pid = data.get("pid")
    return Holder(
        pid=pid if isinstance(pid, int) else None,
        host=str(data["host"]) if data.get("host") else None,
        started_at=str(data["started_at"]) if data.get("started_at") else None,
    )


class RunLock:
    """Context manager holding the lock of out_dir (created if missing) for a run.

    A second holder, in this process or another, gets RunLocked (exit 4) naming the first one's
    pid, host and start time. A lock whose process died is free and is taken over.

        with RunLock(out_dir):
            ...  # run, journal, report
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise RunLocked; never waits."""
        if self._file is not None:
            raise RuntimeError(f"RunLock on {self.out_dir} is already held by this object")
        private_dir(self.out_dir)
        # Create if missing, never truncate before holding the lock (the text is the holder's,
        # and the refused run needs it for its message); 0600, never through a symlink.
        f = _open(self.path)
        if not _try_lock(f):
            f.close()
            raise _locked(self.out_dir, _read_holder(self.path))
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": started}
        try:  # unbuffered: a write that fails (disk full) leaves nothing to flush on close
            os.ftruncate(f.fileno(), 0)
            os.pwrite(f.fileno(), (json.dumps(record) + "\n").encode(), 0)
        except OSError as exc:
            _unlock(f)
            f.close()
            raise ConfigError(
                f"the lock file {self.path} cannot be written ({exc.strerror}): free space on "
                "the disk of --out or fix its permissions"
            ) from exc
        self._file = f

    def release(self) -> None:
        """Empty the lock file and let go of the lock; harmless when not held."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            f.seek(0)
            f.truncate()
            f.flush()
            _unlock(f)
        finally:
            f.close()

    @property
    def held(self) -> bool:
        """True between acquire and release."""
        return self._file is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_free(out_dir: Path) -> None:
    """Raise RunLocked (exit 4) at once when a run holds out_dir's lock; creates nothing.

    For a run to refuse before its slow steps (reading the sheet, signing in); it must still
    take the lock with RunLock afterwards, which is what decides.
    """
    holder = current_holder(out_dir)
    if holder is not None:
        raise _locked(Path(out_dir), holder)


def _locked(out_dir: Path, holder: Holder) -> RunLocked:
    return RunLocked(
        f"another pcbatch run holds the lock of {out_dir} ({holder.describe()}); "
        "nothing was done: wait for it to end, or use another --out "
        f"(lock file: {out_dir / LOCK_NAME})"
    )


def current_holder(out_dir: Path) -> Holder | None:
    """Who holds the lock of out_dir right now, or None when no run does; takes nothing."""
    path = Path(out_dir) / LOCK_NAME
    if not path.is_file():
        return None
    with _open(path) as f:
        if _try_lock(f):
            _unlock(f)
            return None
    return _read_holder(path)
