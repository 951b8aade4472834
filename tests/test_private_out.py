"""--out is private: a 0700 directory of 0600 files whatever the umask, never written through a
symlink, refused when shared (point 2 of the hardening). Real files in a temporary folder."""

import os
import stat

import pytest
from support import city_sheet

from batch.core.errors import ConfigError
from batch.core.options import RunOptions
from batch.durable.files import atomic_write
from batch.durable.journal import JOURNAL_NAME
from batch.durable.lock import LOCK_NAME
from batch.engine.run import run_job

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symlinks")

FAST = {"rate": 1000.0, "timeout": 2.0, "backoff_base": 0.001, "backoff_cap": 0.002}


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def options(sim, tmp_path, out):
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    return RunOptions(input=sheet, base_url=sim.base_url, out=out, **FAST)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def planted(tmp_path, out, name):
    """A symlink out/name -> a file outside, holding "keep"; returns the target."""
    target = tmp_path / f"victim-{name}"
    target.write_text("keep", encoding="utf-8")
    out.mkdir(mode=0o700, exist_ok=True)
    (out / name).symlink_to(target)
    return target


async def test_under_umask_022_out_is_0700_and_every_file_in_it_0600(make_sim, tmp_path, umask_022):
    sim = await make_sim(customers=3)
    out = tmp_path / "reports" / "nightly"
    result = await run_job(options(sim, tmp_path, out), {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 0
    assert mode(out) == 0o700
    names = {p.name for p in out.iterdir()}
    assert {JOURNAL_NAME, LOCK_NAME, "results.csv", "results.xlsx", "summary.json"} <= names
    assert {"failed.csv", "undo.csv", "undo-1.csv"} <= names
    assert {name: mode(out / name) for name in names} == dict.fromkeys(names, 0o600)


@pytest.mark.parametrize("name", [LOCK_NAME, JOURNAL_NAME, JOURNAL_NAME + "-wal"])
async def test_a_symlink_planted_as_the_lock_or_journal_is_refused_and_its_target_untouched(
    make_sim, tmp_path, name
):
    sim = await make_sim(customers=2)
    out = tmp_path / "out"
    target = planted(tmp_path, out, name)
    with pytest.raises(ConfigError, match="symbolic link"):
        await run_job(options(sim, tmp_path, out), {"PC_ACCESS_TOKEN": sim.token})
    assert target.read_text(encoding="utf-8") == "keep"
    assert [e for e in sim.log if e.method == "PUT"] == []


@pytest.mark.parametrize("name", ["results.csv", "summary.json", "undo.csv", "results.xlsx"])
# A refused results.xlsx leaves openpyxl's write-only sheet unsaved: it complains when collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_symlink_planted_as_a_report_file_is_refused_never_followed(
    make_sim, tmp_path, name
):
    sim = await make_sim(customers=2)
    out = tmp_path / "out"
    target = planted(tmp_path, out, name)
    result = await run_job(options(sim, tmp_path, out), {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 2
    assert "symbolic link" in str(result.stopped)
    assert target.read_text(encoding="utf-8") == "keep"
    assert (out / name).is_symlink()


def test_atomic_write_never_follows_a_symlink_at_its_path(tmp_path):
    target = planted(tmp_path, tmp_path / "out", "failed.csv")
    with (
        pytest.raises(ConfigError, match="symbolic link"),
        atomic_write(tmp_path / "out" / "failed.csv") as f,
    ):
        f.write("row,error\n")
    assert target.read_text(encoding="utf-8") == "keep"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["failed.csv"]  # no temp left


@pytest.mark.parametrize("shared", [0o777, 0o770, 0o1777])
async def test_an_out_others_may_write_to_is_refused_saying_why(make_sim, tmp_path, shared):
    sim = await make_sim(customers=1)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(shared)
    with pytest.raises(ConfigError, match="may be written by other users") as caught:
        await run_job(options(sim, tmp_path, out), {"PC_ACCESS_TOKEN": sim.token})
    assert f"chmod go-w {out}" in str(caught.value)
    assert list(out.iterdir()) == [] and rest_calls(sim) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_an_out_that_cannot_be_written_is_one_line_exit_2(make_sim, tmp_path):
    sim = await make_sim(customers=1)
    out = tmp_path / "out"
    out.mkdir(mode=0o500)
    try:
        with pytest.raises(ConfigError, match="cannot be written"):
            await run_job(options(sim, tmp_path, out), {"PC_ACCESS_TOKEN": sim.token})
    finally:
        out.chmod(0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder away takes root")
async def test_an_out_owned_by_another_user_is_refused_saying_why(make_sim, tmp_path):
    sim = await make_sim(customers=1)
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    os.chown(out, 65534, 65534)
    with pytest.raises(ConfigError, match="belongs to another user"):
        await run_job(options(sim, tmp_path, out), {"PC_ACCESS_TOKEN": sim.token})
    assert list(out.iterdir()) == []


async def test_an_out_that_is_a_symlink_is_refused(make_sim, tmp_path):
    sim = await make_sim(customers=1)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="is a symbolic link"):
        await run_job(options(sim, tmp_path, tmp_path / "out"), {"PC_ACCESS_TOKEN": sim.token})
    assert list((tmp_path / "elsewhere").iterdir()) == []


def rest_calls(sim):
    return sum(e.path.startswith("/v1/") for e in sim.log)
