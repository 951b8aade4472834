"""time_left with a fake clock: rows left at the pace of late rows, not of the whole run."""

import pytest

from batch.core.time_left import TimeLeft


def test_nothing_is_estimated_before_two_rows():
    left = TimeLeft()
    assert left.estimate_s(100) is None
    left.on_row(1.0)
    assert left.estimate_s(100) is None
    assert left.estimate_s(0) == 0.0  # nothing left: no time left


def test_rows_left_at_the_pace_of_late_rows():
    left = TimeLeft(span_s=3.0, rows=5)
    for i in range(100):  # a slow start: one row a second
        left.on_row(float(i))
    t = 99.0
    for _ in range(50):  # then ten rows a second
        t += 0.1
        left.on_row(t)
    assert left.estimate_s(100) == pytest.approx(10.0, rel=0.05)
