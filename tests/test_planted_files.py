"""Every writer refuses what another local user could plant: a symlink at the file's name or at a
guessable temporary name, or a file of theirs (issue 28, point 1). Each file pcbatch writes is
0600 whatever the umask. Real files, the real commands, the stand-in over loopback."""

import json
import os
import stat
import subprocess
import sys

import pytest

from batch.wire.login import Login, load_cache, save_cache
from tests.support import invoke, rest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symlinks")

NOBODY = 65534  # another user's uid, for files "they" planted (chown needs root)
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's file needs root")


def victim(tmp_path):
    """A file of the operator's that a planted link points to (their ~/.bashrc)."""
    path = tmp_path / "home" / ".bashrc"
    path.parent.mkdir(exist_ok=True)
    path.write_text("keep\n", encoding="utf-8")
    return path


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask_002():
    old = os.umask(0o002)
    yield
    os.umask(old)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_under_umask_002_is_0600_and_ignores_links_at_guessable_temporary_names(
    make_sim_thread, tmp_path, suffix, umask_002
):
    sim = make_sim_thread(customers=3)
    target = victim(tmp_path)
    output = tmp_path / f"customers{suffix}"
    for guess in (f".{output.name}.tmp", f"{output.name}.tmp", f".{output.name}"):
        (tmp_path / guess).symlink_to(target)
    result = invoke(["export", str(output), "--quiet", "--rate", "1000"], sim)
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == "keep\n"
    assert mode(output) == 0o600 and not output.is_symlink()


@pytest.mark.parametrize("name", ["customers.csv", "customers-errors.csv"])
def test_export_refuses_a_link_at_its_output_or_side_file_before_sending_anything(
    make_sim_thread, tmp_path, name
):
    sim = make_sim_thread(customers=2)
    target = victim(tmp_path)
    (tmp_path / name).symlink_to(target)
    result = invoke(["export", str(tmp_path / "customers.csv"), "--overwrite"], sim)
    assert result.exit_code == 2, result.output
    assert f"{tmp_path / name} is a symbolic link" in result.output
    assert "Traceback" not in result.output
    assert target.read_text(encoding="utf-8") == "keep\n"
    assert rest(sim) == []


def test_export_side_file_of_errors_is_0600_and_written_whole(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    wanted = tmp_path / "wanted.csv"
    wanted.write_text("Customer ID\n99999999-9999-4999-8999-999999999999\n", encoding="utf-8")
    output = tmp_path / "some.csv"
    result = invoke(["export", str(output), "--customers", str(wanted), "--quiet"], sim)
    assert result.exit_code == 1, result.output
    side = tmp_path / "some-errors.csv"
    assert mode(side) == 0o600
    assert "not_found" in side.read_text(encoding="utf-8-sig")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "some-errors.csv",
        "some.csv",
        "wanted.csv",
    ]


@as_root
def test_export_refuses_to_overwrite_another_users_file(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    output = tmp_path / "customers.csv"
    output.write_text("theirs\n", encoding="utf-8")
    os.chown(output, NOBODY, NOBODY)
    result = invoke(["export", str(output), "--overwrite"], sim)
    assert result.exit_code == 2
    assert "belongs to another user (uid 65534)" in result.output
    assert output.read_text(encoding="utf-8") == "theirs\n" and rest(sim) == []


def _simulate(*args):
    command = [sys.executable, "-m", "batch", "simulate", "--port", "0", "--customers", "2"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=30)


def test_simulate_refuses_a_link_at_state_out_before_it_starts(tmp_path):
    target = victim(tmp_path)
    (tmp_path / "after.json").symlink_to(target)
    done = _simulate("--state-out", str(tmp_path / "after.json"))
    assert done.returncode == 2, done.stderr
    assert "is a symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_simulate_refuses_a_link_at_write_sheet_before_it_starts(tmp_path):
    target = victim(tmp_path)
    (tmp_path / "customers.xlsx").symlink_to(target)
    done = _simulate("--write-sheet", str(tmp_path / "customers.xlsx"))
    assert done.returncode == 2, done.stderr
    assert "is a symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_the_stand_ins_state_file_is_0600(make_sim_thread, tmp_path, umask_002):
    sim = make_sim_thread(customers=2)
    sim.export_state(tmp_path / "after.json")
    assert mode(tmp_path / "after.json") == 0o600
    assert len(json.loads((tmp_path / "after.json").read_text(encoding="utf-8"))) == 2


LOGIN = Login("11111111-1111-4111-8111-111111111111", "contoso", "public", None, "ann")


def test_the_token_cache_refuses_a_planted_link_and_keeps_its_target(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PCBATCH_TOKEN_CACHE": "file"}
    folder = tmp_path / "config" / "pcbatch"
    folder.mkdir(parents=True, mode=0o700)
    target = victim(tmp_path)
    (folder / "token_cache.json").symlink_to(target)
    with pytest.raises(Exception, match="symbolic link"):
        save_cache(env, LOGIN, "{}")
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_the_token_cache_and_its_folders_are_private_under_umask_002(tmp_path, umask_002):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PCBATCH_TOKEN_CACHE": "file"}
    save_cache(env, LOGIN, "{}")
    assert mode(tmp_path / "config") == 0o700
    assert mode(tmp_path / "config" / "pcbatch") == 0o700
    assert mode(tmp_path / "config" / "pcbatch" / "token_cache.json") == 0o600
    assert load_cache(env) == (LOGIN, "{}")


@as_root
def test_the_lock_refuses_a_lock_file_another_user_planted(tmp_path):
    from batch.core.errors import ConfigError
    from batch.durable.lock import LOCK_NAME, RunLock

    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    (out / LOCK_NAME).write_text("", encoding="utf-8")
    os.chown(out / LOCK_NAME, NOBODY, NOBODY)
    with pytest.raises(ConfigError, match="belongs to another user"), RunLock(out):
        pass
