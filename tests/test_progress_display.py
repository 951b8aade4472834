"""The progress display of `pcbatch run`, rendered to a fake terminal."""

from io import StringIO
from pathlib import Path

from rich.console import Console

from batch.cli.run import RunDisplay
from batch.engine.pool import Progress

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


def test_after_a_stop_the_bar_stays_where_the_run_stopped_and_says_why():
    console = terminal()
    display = RunDisplay(console, allowed_rate=10.0)
    display.started(Path("out"), 100, TARGET)
    display.show(Progress(30, 100, 10.0, 0, 0, eta_s=70.0))
    why = "interrupted (SIGINT): pcbatch run --resume continues"
    display.show(Progress(31, 100, 10.0, 0, 0, skipped=1, stopped=why))
    display.show(Progress(100, 100, 10.0, 0, 0, skipped=70, stopped=why))
    line = bar_line(display)
    assert "stopped" in line
    assert "30/100" in line  # not a full bar
    assert "left" not in line
    assert console.file.getvalue().count(f"stopped after 30 of 100 rows: {why}") == 1
