"""One run at a time per --out: a second run is refused (exit 4); a dead run's lock is free."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from batch.core.errors import RunLocked
from batch.durable.lock import LOCK_NAME, RunLock, current_holder

HOLD = textwrap.dedent(
    """
    import sys
    from batch.durable.lock import RunLock
    with RunLock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
    """
)


@pytest.fixture
def other_process(tmp_path):
    """A second process holding the lock of tmp_path/out until it is told to stop or killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "out")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_run_in_the_same_process_is_refused_naming_the_first(tmp_path):
    with RunLock(tmp_path), pytest.raises(RunLocked) as refused:
        RunLock(tmp_path).acquire()

    assert refused.value.exit_code == 4
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message
    assert "started 20" in message
    assert str(tmp_path) in message
    assert "nothing was done" in message


def test_a_run_in_another_process_is_refused_with_exit_code_4_naming_its_pid(
    tmp_path, other_process
):
    with pytest.raises(RunLocked, match=rf"pid {other_process.pid}\b") as refused:
        RunLock(tmp_path / "out").acquire()
    assert refused.value.exit_code == 4


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, other_process):
    other_process.send_signal(signal.SIGKILL)
    other_process.wait()

    with RunLock(tmp_path / "out") as lock:
        holder = json.loads(lock.path.read_text())
    assert holder["pid"] == os.getpid()


def test_a_stale_lock_file_naming_a_pid_that_does_not_exist_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(
        json.dumps({"pid": 2**22 + 12345, "host": "gone", "started_at": "2020-01-01T00:00:00Z"})
    )

    with RunLock(tmp_path) as lock:
        assert lock.held
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_after_a_run_ends_the_next_one_gets_the_lock(tmp_path):
    with RunLock(tmp_path):
        pass
    assert (tmp_path / LOCK_NAME).read_text() == ""  # released: no holder left to name
    with RunLock(tmp_path) as lock:
        assert lock.held


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(ValueError), RunLock(tmp_path):
        raise ValueError("boom")
    assert current_holder(tmp_path) is None


def test_current_holder_names_a_live_run_and_takes_nothing(tmp_path, other_process):
    holder = current_holder(tmp_path / "out")
    assert holder is not None
    assert holder.pid == other_process.pid
    with pytest.raises(RunLocked):  # probing did not steal it
        RunLock(tmp_path / "out").acquire()


def test_current_holder_is_none_where_no_run_ever_was(tmp_path):
    assert current_holder(tmp_path) is None


def test_the_lock_creates_the_out_directory(tmp_path):
    with RunLock(tmp_path / "new" / "dir"):
        assert (tmp_path / "new" / "dir" / LOCK_NAME).is_file()


def test_a_damaged_lock_file_still_refuses_while_held_and_says_pid_unknown(tmp_path):
    with RunLock(tmp_path) as lock:
        lock.path.write_text("{garbage")
        with pytest.raises(RunLocked, match="pid unknown"):
            RunLock(tmp_path).acquire()
