"""The progress display of `pcbatch run`, rendered to a fake terminal of a fixed width."""

import logging
import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from batch.cli.run import _setup_logging, run_watched
from batch.cli.run_display import RunDisplay
from batch.core.model import Status
from batch.core.options import RunOptions
from batch.engine.pool import Progress
from tests.support import city_sheet, read_summary

TARGET = "writing to cloud global, tenant 8f3c6a2e-0d4b, base URL http://127.0.0.1:8479"


def terminal() -> Console:
    return Console(file=StringIO(), force_terminal=True, width=160, color_system=None)


def bar_line(display: RunDisplay) -> str:
    """The bar's line as a terminal of 160 columns shows it."""
    screen = terminal()
    screen.print(display.bar.make_tasks_table(display.bar.tasks))
    return " ".join(screen.file.getvalue().split())


def test_the_display_names_where_the_run_writes_before_the_first_row():
    console = terminal()
    display = RunDisplay(console, allowed_rate=10.0)
    display.started(Path("out"), 100, TARGET)
    assert TARGET in console.file.getvalue()
    assert "0/100" in bar_line(display)


def test_the_bar_shows_rows_measured_and_allowed_rates_429s_conflicts_and_time_left():
    display = RunDisplay(terminal(), allowed_rate=10.0)
    display.started(Path("out"), 100, TARGET)
    display.show(Progress(40, 100, 7.5, 3, 2, measured_rate=9.84, eta_s=75.2))
    line = bar_line(display)
    assert "40/100" in line
    assert "9.8 req/s sent, 7.5 allowed" in line
    assert "429s 3 conflicts 2" in line
    assert "left 0:01:15" in line


def test_the_time_left_and_rate_are_dashes_until_they_are_known():
    display = RunDisplay(terminal(), allowed_rate=10.0)
    display.show(Progress(1, 10, 10.0, 0, 0))
    line = bar_line(display)
    assert "- req/s sent, 10.0 allowed" in line
    assert "left -:--:--" in line


def test_rows_past_the_limit_are_not_part_of_the_bar():
    display = RunDisplay(terminal(), allowed_rate=10.0)
    display.started(Path("out"), 100, TARGET)
    display.show(Progress(92, 100, 10.0, 0, 0, skipped=90))
    assert "2/10" in bar_line(display)


def test_after_a_stop_the_bar_says_stopped_and_counts_the_customers_in_flight_to_the_end():
    console = terminal()
    display = RunDisplay(console, allowed_rate=10.0)
    display.started(Path("out"), 100, TARGET)
    display.show(Progress(30, 100, 10.0, 0, 0, eta_s=70.0))
    why = "interrupted (SIGINT): pcbatch run --resume continues"
    display.show(Progress(31, 100, 10.0, 0, 0, skipped=1, stopped=why))
    # the customers in flight finish after the stop: the bar counts them too
    display.show(Progress(100, 100, 10.0, 0, 0, skipped=68, stopped=why))
    line = bar_line(display)
    assert "stopped 32/100" in line  # not a full bar, and the report's count
    assert "left" not in line
    assert why not in console.file.getvalue()  # the run's closing error line says why, once


def screen(width: int) -> Console:
    return Console(file=StringIO(), width=width, force_terminal=True, color_system=None)


def rendered(display: RunDisplay) -> list[str]:
    """The bar's lines as the display's own console (its width) shows them."""
    console = display.console
    console.file = StringIO()
    console.print(display.bar.make_tasks_table(display.bar.tasks))
    return [line.rstrip() for line in console.file.getvalue().splitlines() if line.strip()]


RUNNING = Progress(
    347,
    1000,
    7.5,
    3,
    2,
    measured_rate=9.84,
    window=30,
    eta_s=312.0,
    statuses={Status.UPDATED: 340, Status.FAILED: 2, Status.REJECTED: 4, Status.UNCHANGED: 1},
)


def test_at_80_columns_the_count_and_time_left_come_first_then_elapsed_updated_and_failed():
    display = RunDisplay(screen(80), allowed_rate=10.0)
    display.started(Path("out"), 1000, TARGET)
    display.show(RUNNING)
    (line,) = rendered(display)
    assert len(line) <= 80
    assert line.startswith("347/1000 left 0:05:12 ")
    assert re.search(r"━+", line)  # the bar is there, between them
    assert line.endswith("elapsed 0:00:00 updated 340 failed 2")
    assert "req/s" not in line and "429s" not in line  # for wider terminals


def test_at_140_columns_the_rates_window_429s_conflicts_and_other_troubles_show_too():
    display = RunDisplay(screen(140), allowed_rate=10.0)
    display.started(Path("out"), 1000, TARGET)
    display.show(RUNNING)
    (line,) = rendered(display)
    assert len(line) <= 140
    assert line.startswith("347/1000 left 0:05:12 ")
    assert "updated 340 failed 2" in line
    assert "9.8 req/s sent, 7.5 allowed, window 30" in line
    assert "429s 3  conflicts 2  rejected 4" in line
    assert re.search(r"━+", line)


def test_a_dry_run_counts_the_rows_that_would_update():
    display = RunDisplay(screen(80), allowed_rate=10.0, dry_run=True)
    display.show(Progress(5, 10, 10.0, 0, 0, statuses={Status.WOULD_UPDATE: 4, Status.FAILED: 1}))
    assert "would update 4 failed 1" in rendered(display)[0]


@pytest.fixture
def restored_logging():
    logger = logging.getLogger("batch")
    handlers, level = logger.handlers[:], logger.level
    yield
    logger.handlers[:], logger.level = handlers, level


async def test_a_stopped_run_names_its_reason_once_and_its_bar_counts_what_the_report_says(
    make_sim, tmp_path, restored_logging
):
    sim = await make_sim(customers=120, fail_503=1.0)  # an outage: the failure budget stops it
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    options = RunOptions(
        input=sheet,
        base_url=sim.base_url,
        out=tmp_path / "out",
        rate=1000.0,
        timeout=2.0,
        backoff_base=0.001,
        backoff_cap=0.002,
        concurrency=8,
        max_attempts=2,
    )
    console = screen(80)
    _setup_logging("text", logging.WARNING, console)  # as console_for does for a terminal

    result = await run_watched(options, {"PC_ACCESS_TOKEN": sim.token}, console)

    assert result.exit_code == 75
    stderr = console.file.getvalue()
    assert stderr.count(str(result.stopped)) == 1
    statuses = read_summary(tmp_path / "out")["statuses"]
    sent = 120 - statuses["skipped"]
    final = re.findall(r"stopped (\d+)/(\d+).*?updated (\d+) failed (\d+)", stderr)[-1]
    assert final == (str(sent), "120", str(statuses["updated"]), str(statuses["failed"]))
    assert statuses["failed"] == sent > 0
