"""Operators' mistakes are loud: a wrong base URL, a host nobody listens on, refused credentials.

Point 1 of the hardening: a wrong setting is exit 2 with one line naming what to fix, found by
the pre-flight read before anything is written; an outage in the middle of a run is still 75,
and one unknown customer still 1.
"""

import socket

import pytest
from support import after_requests, city_sheet, read_results, read_summary, rest

from batch.core.errors import ConfigError
from batch.core.options import RunOptions
from batch.core.preflight import misconfiguration
from batch.core.retry import Fault, Reply
from batch.engine.run import run_job

FAST = {"rate": 1000.0, "timeout": 2.0, "backoff_base": 0.001, "backoff_cap": 0.002}
UNKNOWN = "00000000-0000-4000-8000-00000000dead"


def options(sim, tmp_path, base_url, ids, **changes):
    sheet = city_sheet(tmp_path / "in.csv", ids)
    return RunOptions(input=sheet, base_url=base_url, out=tmp_path / "out", **{**FAST, **changes})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("reply", "names"),
    [
        (Reply(0, {}, fault=Fault.CONNECT, message="could not connect"), "example.test:443"),
        (Reply(404, {}, error_code="1000", message="Not found"), "base URL https://example.test"),
        (Reply(404, {}, message="<html>"), "base URL"),
        (Reply(404, {}, error_code="60003"), None),  # one unknown customer: a row's not_found
        (Reply(0, {}, fault=Fault.TIMEOUT), None),  # may have reached the service: an outage
        (Reply(503, {}), None),
        (Reply(401, {}), "check the token in PC_ACCESS_TOKEN"),  # refused even renewed
        (Reply(200, {}), None),
    ],
)
def test_the_first_answer_tells_a_wrong_setting_from_an_outage(reply, names):
    wrong = misconfiguration(reply, "https://example.test", "the token in PC_ACCESS_TOKEN")
    if names is None:
        assert wrong is None
    else:
        assert isinstance(wrong, ConfigError) and wrong.exit_code == 2
        assert names in str(wrong)


async def test_a_base_url_with_v1_too_many_is_exit_2_naming_it_and_nothing_is_sent(
    make_sim, tmp_path
):
    sim = await make_sim(customers=3)
    wrong = sim.base_url + "/v1"
    with pytest.raises(ConfigError, match="check the base URL") as caught:
        await run_job(
            options(sim, tmp_path, wrong, sim.store.ids()), {"PC_ACCESS_TOKEN": sim.token}
        )
    assert wrong in str(caught.value) and "404 code 1000" in str(caught.value)
    assert [e.method for e in rest(sim)] == ["GET"]  # the one pre-flight read
    assert not (tmp_path / "out" / "summary.json").exists()


async def test_a_host_nobody_listens_on_is_exit_2_naming_host_and_port(make_sim, tmp_path):
    sim = await make_sim(customers=2)
    port = free_port()
    opts = options(sim, tmp_path, f"http://127.0.0.1:{port}", sim.store.ids())
    with pytest.raises(ConfigError, match=f"no request reached the service at 127.0.0.1:{port}"):
        await run_job(opts, {"PC_ACCESS_TOKEN": sim.token})


async def test_one_unknown_first_customer_is_still_exit_1(make_sim, tmp_path):
    sim = await make_sim(customers=2)
    opts = options(sim, tmp_path, sim.base_url, [UNKNOWN, *sim.store.ids()])
    result = await run_job(opts, {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 1
    assert [r["status"] for r in read_results(tmp_path / "out")] == [
        "not_found",
        "updated",
        "updated",
    ]
    # The pre-flight read is counted with the rest.
    assert read_summary(tmp_path / "out")["requests"] == len(rest(sim))


async def test_a_token_refused_on_the_first_call_is_exit_2_naming_where_it_came_from(
    make_sim, tmp_path
):
    sim = await make_sim(customers=2)
    opts = options(sim, tmp_path, sim.base_url, sim.store.ids(), concurrency=1)
    with pytest.raises(ConfigError, match="check the token in PC_ACCESS_TOKEN") as refused:
        await run_job(opts, {"PC_ACCESS_TOKEN": "not-the-token"})
    assert refused.value.exit_code == 2
    assert [r.method for r in rest(sim)] == ["GET", "GET"]  # the read, and once more: no PUT
    assert not (tmp_path / "out" / "summary.json").exists()  # no run began


async def test_an_outage_in_the_middle_of_a_long_run_stops_within_a_window_with_exit_75(
    make_sim, tmp_path
):
    sim = await make_sim(customers=200)
    # The pre-flight read, then 100 customers updated (GET + PUT): then every answer is a 500.
    after_requests(sim, 201, lambda: setattr(sim.config, "fail_500", 1.0))
    opts = options(sim, tmp_path, sim.base_url, sim.store.ids(), concurrency=2, max_attempts=1)
    result = await run_job(opts, {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 75
    statuses = [r["status"] for r in read_results(tmp_path / "out")]
    assert statuses.count("updated") >= 99
    # 26 failures of the last 50 spend the default budget of 0.5; two more were in flight.
    assert 26 <= statuses.count("failed") <= 28
