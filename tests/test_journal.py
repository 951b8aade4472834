"""The run journal: what is recorded, that it is durable at once, and what --resume picks up."""

import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.core.country_rules import RulesAnswer, parse_country_rules, shipped_rules
from batch.core.country_rules_data import PUBLISHED
from batch.core.errors import ConfigError
from batch.core.model import Change, NotSent, Outcome, Problem, Row, RunStats, Sheet, Status
from batch.core.retry import CREDENTIALS_REFUSED
from batch.durable.journal import JOURNAL_NAME, Journal
from batch.durable.journal_schema import SCHEMA_VERSION

HEADERS = ("Customer ID", "City", "Phone", "Notes")


def guid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


def make_sheet(valid_rows=(2, 3, 4), invalid_rows=(), duplicate_rows=()) -> Sheet:
    rows = tuple(
        Row(
            n,
            guid(n),
            {"city": f"City {n}", "phone_number": None},
            {"Customer ID": guid(n).upper(), "City": f"City {n}", "Phone": "#N/A", "Notes": "x"},
        )
        for n in valid_rows
    )
    rejected = tuple(
        NotSent(
            n,
            f"bad-{n}",
            Status.INVALID,
            (Problem(n, "Customer ID", f"bad-{n}", "not a GUID"),),
            {"Customer ID": f"bad-{n}", "City": "", "Phone": "", "Notes": ""},
        )
        for n in invalid_rows
    ) + tuple(
        NotSent(
            n,
            guid(2),
            Status.DUPLICATE,
            (Problem(n, "Customer ID", guid(2), "same as row 2"),),
            {"Customer ID": guid(2), "City": "City 2", "Phone": "#N/A", "Notes": "x"},
        )
        for n in duplicate_rows
    )
    return Sheet(
        path="customers.csv",
        format="csv",
        sheet_name=None,
        headers=HEADERS,
        columns={"customer_id": "Customer ID", "city": "City", "phone_number": "Phone"},
        unknown_headers=("Notes",),
        rows=rows,
        not_sent=tuple(sorted(rejected, key=lambda r: r.number)),
    )


def recorded(journal: Journal, run_id: int | None = None) -> list[Outcome]:
    """Every recorded row's latest outcome, in row order."""
    return [e.outcome for e in journal.entries(run_id) if e.outcome is not None]


def started(tmp_path: Path, sheet: Sheet | None = None, **options) -> Journal:
    journal = Journal.open(tmp_path)
    journal.start_run(sheet or make_sheet(), "ab" * 32, {"dry_run": False, **options})
    return journal


def test_an_outcome_is_visible_to_another_reader_as_soon_as_record_returns(tmp_path):
    journal = started(tmp_path)
    journal.record(Outcome(3, guid(3), Status.UPDATED, attempts=1))

    other = sqlite3.connect(tmp_path / JOURNAL_NAME)
    found = other.execute("SELECT row, status FROM outcomes WHERE row = 3").fetchall()
    other.close()
    assert found == [(3, "updated")]


def test_the_journal_is_in_wal_mode_so_readers_never_block_the_run(tmp_path):
    started(tmp_path).close()
    db = sqlite3.connect(tmp_path / JOURNAL_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_every_field_of_an_outcome_comes_back_as_recorded(tmp_path):
    journal = started(tmp_path)
    outcome = Outcome(
        row=2,
        customer_id=guid(2),
        status=Status.REJECTED,
        attempts=3,
        conflicts=2,
        http_status=400,
        error_code="2055",
        message="Etag is no longer valid — señor",
        changes=(Change("city", None, "Köln"), Change("phone_number", "+1 425", None)),
        request_id="req-1",
        correlation_id="corr-1",
        duration_ms=1234,
        etag='"-4242"',
        retry_on_resume=True,
    )
    journal.record(outcome)
    journal.close()

    assert recorded(Journal.open(tmp_path), 1)[0] == outcome


def test_rejected_rows_have_their_outcome_as_soon_as_the_run_starts(tmp_path):
    journal = started(tmp_path, make_sheet(invalid_rows=(5,), duplicate_rows=(6,)))

    assert recorded(journal) == [
        Outcome(5, "bad-5", Status.INVALID, message="Customer ID: not a GUID"),
        Outcome(6, guid(2), Status.DUPLICATE, message="Customer ID: same as row 2"),
    ]


@settings(max_examples=25, deadline=None)
@given(st.permutations([2, 3, 4, 5, 6, 7]))
def test_outcomes_come_back_in_row_order_whatever_order_they_finished_in(order):
    with tempfile.TemporaryDirectory() as folder:
        journal = started(Path(folder), make_sheet(valid_rows=(2, 3, 4, 5, 6, 7)))
        for n in order:
            journal.record(Outcome(n, guid(n), Status.UNCHANGED))
        assert [o.row for o in recorded(journal)] == [2, 3, 4, 5, 6, 7]
        journal.close()


def test_a_later_outcome_for_a_row_replaces_the_earlier_one(tmp_path):
    journal = started(tmp_path)
    journal.record(Outcome(2, guid(2), Status.FAILED, attempts=6, http_status=503))
    journal.record(Outcome(2, guid(2), Status.UPDATED, attempts=1, http_status=200))

    assert [(o.row, o.status) for o in recorded(journal)] == [(2, Status.UPDATED)]


def test_resume_sends_again_only_rows_never_done_failed_or_skipped(tmp_path):
    journal = started(
        tmp_path,
        make_sheet(valid_rows=range(2, 12), invalid_rows=(12,), duplicate_rows=(13,)),
    )
    for n, status in [
        (2, Status.UPDATED),
        (3, Status.UNCHANGED),
        (4, Status.FAILED),
        (5, Status.SKIPPED),
        (6, Status.NOT_FOUND),
        (7, Status.REJECTED),
        (8, Status.WOULD_UPDATE),
        (9, Status.UPDATED),
    ]:
        journal.record(Outcome(n, guid(n), status))
    journal.record(Outcome(9, guid(9), Status.FAILED))  # latest wins: 9 is pending again
    journal.record(Outcome(4, guid(4), Status.UPDATED))  # and 4 is now done

    pending = journal.pending_rows(1)

    assert [r.number for r in pending] == [5, 9, 10, 11]
    assert pending[0] == make_sheet(valid_rows=(5,)).rows[0]  # values, clears and raw intact


def test_resume_sends_again_the_row_that_found_the_credentials_refused_but_no_other_refusal(
    tmp_path,
):
    journal = started(tmp_path, make_sheet(valid_rows=(2, 3, 4)))
    journal.record(Outcome(2, guid(2), Status.UPDATED, http_status=200))
    refusal = "HTTP 403 code 900150: forbidden"
    journal.record(Outcome(3, guid(3), Status.REJECTED, http_status=403, message=refusal))
    aborted = f"{CREDENTIALS_REFUSED}: HTTP 401"
    journal.record(
        Outcome(4, guid(4), Status.REJECTED, http_status=401, message=aborted, retry_on_resume=True)
    )

    assert [r.number for r in journal.pending_rows(1)] == [4]


def test_a_journal_of_schema_2_is_upgraded_and_still_resends_the_row_refused_credentials(
    tmp_path,
):
    journal = started(tmp_path, make_sheet(valid_rows=(2, 3, 4)))
    journal.record(Outcome(2, guid(2), Status.REJECTED, http_status=403, message="HTTP 403"))
    aborted = f"{CREDENTIALS_REFUSED}: HTTP 401"
    journal.record(Outcome(3, guid(3), Status.REJECTED, http_status=401, message=aborted))
    journal.record(Outcome(4, guid(4), Status.UPDATED, etag="7"))
    journal.close()
    # As an older pcbatch (schema 2) left it: no retry_on_resume column; the message tells the row.
    db = sqlite3.connect(tmp_path / JOURNAL_NAME)
    db.execute("ALTER TABLE outcomes DROP COLUMN retry_on_resume")
    db.execute("PRAGMA user_version=2")
    db.close()

    upgraded = Journal.open(tmp_path)

    assert [r.number for r in upgraded.pending_rows(1)] == [3]
    assert [o.retry_on_resume for o in recorded(upgraded)] == [False, True, False]
    assert recorded(upgraded)[2].etag == "7"
    upgraded.close()
    db = sqlite3.connect(tmp_path / JOURNAL_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_counts_add_up_every_row_by_its_latest_status_and_unrecorded_rows_are_skipped(tmp_path):
    journal = started(tmp_path, make_sheet(valid_rows=range(2, 8), invalid_rows=(8,)))
    journal.record(Outcome(2, guid(2), Status.UPDATED, changes=(Change("city", "A", "B"),)))
    journal.record(Outcome(3, guid(3), Status.UPDATED, changes=(Change("email", None, "x@y"),)))
    journal.record(Outcome(4, guid(4), Status.FAILED))
    journal.record(Outcome(5, guid(5), Status.SKIPPED))
    journal.record(Outcome(4, guid(4), Status.UNCHANGED))  # latest wins

    assert journal.counts(1) == {
        Status.UPDATED: 2,
        Status.UNCHANGED: 1,
        Status.SKIPPED: 3,  # row 5 recorded, rows 6 and 7 never
        Status.INVALID: 1,
    }


def test_changed_fields_are_grouped_by_the_status_of_each_rows_latest_outcome(tmp_path):
    journal = started(tmp_path, make_sheet(valid_rows=range(2, 6)))
    journal.record(Outcome(2, guid(2), Status.UPDATED, changes=(Change("city", "A", "B"),)))
    both = (Change("city", "C", "D"), Change("email", None, "x@y"))
    journal.record(Outcome(3, guid(3), Status.UPDATED, changes=both))
    journal.record(
        Outcome(4, guid(4), Status.REJECTED, changes=(Change("phone_number", "1", None),))
    )
    journal.record(Outcome(5, guid(5), Status.UPDATED, changes=(Change("state", "X", "Y"),)))
    journal.record(Outcome(5, guid(5), Status.FAILED))  # latest wins: no changes any more

    assert journal.changed_fields(1) == {
        Status.UPDATED: {"city", "email"},
        Status.REJECTED: {"phone_number"},
    }


def test_a_resumed_run_keeps_its_id_and_adds_up_the_counters_of_each_session(tmp_path):
    clock = iter(datetime(2025, 1, 1, 2, 0, tzinfo=UTC) + timedelta(seconds=s) for s in range(99))
    journal = Journal.open(tmp_path, clock=lambda: next(clock))
    run_id = journal.start_run(make_sheet(), "ab" * 32, {"rate": 5.0})  # t=0
    journal.record(Outcome(2, guid(2), Status.UPDATED))
    first = {"rate_measured": 2.0, "window_final": 6, "window_mean": 4.0, "window_max": 9}
    journal.finish_run(
        RunStats(requests=10, throttled=2, rate_final=3.0, rate_min=1.5, **first), 75
    )  # t=2
    journal.close()

    again = Journal.open(tmp_path, clock=lambda: next(clock))
    last = again.last_run()
    assert last is not None
    assert (last.run_id, last.exit_code) == (run_id, 75)
    again.resume_run(last.run_id, {"rate": 4.0})  # t=3
    assert again.run_info(run_id).finished_at is None
    again.record(Outcome(3, guid(3), Status.UPDATED))
    again.record(Outcome(4, guid(4), Status.UPDATED))
    second = {"rate_measured": 5.0, "window_final": 8, "window_mean": 7.0, "window_max": 8}
    again.finish_run(RunStats(requests=5, conflicts=1, rate_final=4.0, rate_min=2.5, **second), 0)

    info = again.run_info(run_id)
    assert (info.sessions, info.exit_code, info.rows) == (2, 0, 3)
    assert (info.stats.requests, info.stats.throttled, info.stats.conflicts) == (15, 2, 1)
    assert (info.stats.rate_final, info.stats.rate_min) == (4.0, 1.5)
    # 15 requests in 10/2 + 5/5 = 6 s of sending; the window: the last, mean by request, most
    assert info.stats.rate_measured == 15 / 6
    assert (info.stats.window_final, info.stats.window_mean, info.stats.window_max) == (8, 5.0, 9)
    assert info.started_at == "2025-01-01T02:00:00.000Z"
    assert info.elapsed_s == 2.0 + 3.0  # each session from its start to its end
    assert info.options == {"rate": 5.0}  # the run's own options; sessions keep theirs
    assert again.pending_rows(run_id) == []


def test_a_run_whose_process_died_shows_no_end_and_its_time_until_the_last_outcome(tmp_path):
    clock = iter(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=s) for s in range(99))
    journal = Journal.open(tmp_path, clock=lambda: next(clock))
    journal.start_run(make_sheet(), "ab" * 32, {})  # t=0
    journal.record(Outcome(2, guid(2), Status.UPDATED))  # t=1
    journal.record(Outcome(3, guid(3), Status.UPDATED))  # t=2; then the process is killed

    info = Journal.open(tmp_path).last_run()

    assert info is not None
    assert (info.finished_at, info.exit_code, info.elapsed_s) == (None, None, 2.0)
    assert info.stats.requests == 0  # the dead session's counters were never written


def test_credentials_given_as_options_never_reach_the_journal_file(tmp_path):
    journal = started(
        tmp_path, access_token="eyJ0eXAi.SECRET", client_secret="hunter2", clear_token="#X"
    )
    journal.close()

    info = Journal.open(tmp_path).last_run()
    assert info is not None
    assert info.options == {"dry_run": False, "clear_token": "#X"}
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"SECRET" not in stored and b"hunter2" not in stored


def test_paths_and_enums_in_the_options_are_stored_as_text(tmp_path):
    journal = started(tmp_path, out=tmp_path / "out", status=Status.FAILED)
    info = journal.run_info(1)
    assert info.options["out"] == str(tmp_path / "out")
    assert info.options["status"] == "failed"


def test_the_run_remembers_its_input_for_resume_and_the_report(tmp_path):
    info = started(tmp_path).last_run()
    assert info is not None
    assert info.input_path == "customers.csv"
    assert info.input_sha256 == "ab" * 32
    assert info.headers == HEADERS
    assert info.columns["phone_number"] == "Phone"
    assert info.unknown_headers == ("Notes",)


def test_a_fresh_journal_has_no_last_run(tmp_path):
    assert Journal.open(tmp_path).last_run() is None


def test_opening_creates_the_out_directory(tmp_path):
    Journal.open(tmp_path / "a" / "b").close()
    assert (tmp_path / "a" / "b" / JOURNAL_NAME).is_file()


def test_a_directory_without_a_journal_is_named_in_the_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no journal in .*give the --out directory"):
        Journal.open(tmp_path, create=False)
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_a_file_that_is_not_a_journal_is_refused_with_a_message(tmp_path):
    (tmp_path / JOURNAL_NAME).write_text("hello, not a database" * 100)
    with pytest.raises(ConfigError, match="is not a pcbatch journal"):
        Journal.open(tmp_path)


def test_a_journal_from_a_newer_pcbatch_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / JOURNAL_NAME)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(ConfigError, match="newer pcbatch"):
        Journal.open(tmp_path)


def test_recording_before_a_run_started_is_a_bug_not_a_silent_loss(tmp_path):
    with pytest.raises(RuntimeError, match="start_run"):
        Journal.open(tmp_path).record(Outcome(2, guid(2), Status.UPDATED))


def test_an_outcome_for_a_row_the_run_does_not_have_is_refused(tmp_path):
    with pytest.raises(sqlite3.IntegrityError):
        started(tmp_path).record(Outcome(99, guid(99), Status.UPDATED))


def test_country_rules_answers_are_kept_per_run_and_read_back_with_their_rules(tmp_path):
    journal = started(tmp_path, make_sheet(valid_rows=(2,)))
    us = PUBLISHED["US"]
    journal.record_rules(RulesAnswer("US", parse_country_rules(us, "US"), document=us))
    journal.record_rules(RulesAnswer("XK", None, "Partner Center publishes no rules for it (404)"))
    journal.record_rules(RulesAnswer("FR", None, "no answer", final=False))
    journal.record_rules(RulesAnswer("FR", None, "HTTP 503", final=False))  # latest replaces

    found = journal.country_rules(1)

    assert sorted(found) == ["FR", "US", "XK"]
    assert found["US"].rules == shipped_rules("US") and found["US"].final
    assert (found["XK"].rules, found["XK"].final) == (None, True)
    assert (found["FR"].why_not, found["FR"].final) == ("HTTP 503", False)


def test_a_journal_of_schema_3_gets_the_country_rules_table(tmp_path):
    journal = started(tmp_path, make_sheet(valid_rows=(2,)))
    journal.close()
    db = sqlite3.connect(tmp_path / JOURNAL_NAME)
    db.execute("DROP TABLE country_rules")
    db.execute("PRAGMA user_version=3")
    db.close()

    upgraded = Journal.open(tmp_path)
    assert upgraded.country_rules(1) == {}
    upgraded.resume_run(1, {})
    upgraded.record_rules(RulesAnswer("DE", None, "no answer", final=False))
    assert list(upgraded.country_rules(1)) == ["DE"]
    upgraded.close()
    db = sqlite3.connect(tmp_path / JOURNAL_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    db.close()
