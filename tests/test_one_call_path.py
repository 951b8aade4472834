"""The seams of the engine, through the paths users take: the window the options describe is the
one that paces the run, and every call (the pre-flight read and `validate --online` too) waits
the Retry-After it is given. Counted at the stand-in, over loopback."""

from click.testing import CliRunner
from support import city_sheet, read_summary, rest, run_fast

from batch.cli import cli
from batch.core.options import RunOptions
from batch.engine.run import run_job


async def test_concurrency_n_is_the_most_customers_ever_in_flight(make_sim, tmp_path):
    sim = await make_sim(customers=40, seed=1, latency_ms=15.0)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    result = await run_fast(sim, sheet, tmp_path / "out", concurrency=3)
    summary = read_summary(result.out_dir)
    assert result.exit_code == 0
    assert 1 <= sim.profiles_in_flight_max <= 3
    # the window that paced the run is the one summary.json reports: never above --concurrency
    assert summary["window_max"] <= 3 and summary["window_final"] <= 3


async def test_fixed_concurrency_keeps_the_window_there_while_latency_rises(make_sim, tmp_path):
    sim = await make_sim(customers=60, seed=1, latency_ms=5.0, latency_sigma=0.3)
    ids = sim.store.ids()
    sheet = city_sheet(tmp_path / "in.csv", ids)
    seen = []

    def slower(progress):  # half way, the service slows down eight times
        seen.append(progress.window)
        if progress.done == 30:
            sim.config.latency_ms = 40.0

    options = RunOptions(
        input=sheet,
        base_url=sim.base_url,
        out=tmp_path / "out",
        rate=500.0,
        concurrency=6,
        fixed_concurrency=True,
        timeout=2.0,
    )
    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token}, on_progress=slower)
    summary = read_summary(result.out_dir)
    assert result.exit_code == 0
    assert set(seen) == {6}
    assert (summary["window_final"], summary["window_max"], summary["window_mean"]) == (6, 6, 6)
    assert sim.profiles_in_flight_max <= 6


async def test_the_pre_flight_read_waits_the_retry_after_it_is_given(make_sim, tmp_path):
    # The first customer's quota is spent once (429, Retry-After 1 s): the pre-flight read
    # meets it, and no call goes out again before the second has passed.
    sim = await make_sim(customers=1, seed=1, customer_429_once=1.0, customer_429_retry_after=1)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    result = await run_fast(sim, sheet, tmp_path / "out")
    calls = [c for c in rest(sim) if c.customer_id is not None]  # not the country rules'
    assert result.exit_code == 0
    assert [(c.method, c.status) for c in calls] == [
        ("GET", 429),
        ("GET", 200),
        ("GET", 200),
        ("PUT", 200),
    ]
    assert calls[1].at - calls[0].at >= 0.95  # its Retry-After, less the loopback's own time
    assert read_summary(result.out_dir)["throttled"] == 1


def test_validate_online_waits_a_429_and_checks_the_country_after_all(make_sim_thread, tmp_path):
    # One request a second: the second country's rules are answered 429 at first.
    sim = make_sim_thread(partner_rate=1.0, partner_burst=1)
    path = tmp_path / "in.csv"
    a, b = "0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    path.write_text(
        f"Customer ID,State,Postal Code,Country\n{a},ZZ,98052,US\n{b},,ABC,DE\n", encoding="utf-8"
    )
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url, "COLUMNS": "200"}
    result = CliRunner().invoke(cli, ["validate", str(path), "--online"], env=env)
    statuses = [e.status for e in sim.log if e.path.startswith("/v1/countryvalidationrules/")]
    assert 429 in statuses and statuses.count(200) == 2
    assert "not checked against country rules" not in result.stderr
    assert result.exit_code == 1  # both rows break their country's rules, both are named
    assert "2 State ZZ" in " ".join(result.stdout.split())
    assert "3 Postal Code ABC" in " ".join(result.stdout.split())
