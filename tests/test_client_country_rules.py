"""Client.get_country_rules over loopback: the published answer, a 404, an odd answer."""

import pytest

from batch.core.country_rules import parse_country_rules
from batch.simulator import SimConfig, run_simulator
from batch.wire.auth import StaticToken
from batch.wire.client import Client, new_request_id


async def test_the_rules_come_back_parseable_and_a_404_is_a_404():
    async with run_simulator(SimConfig(customers=0)) as sim:
        async with Client(sim.base_url, StaticToken(sim.token), timeout=5, connections=2) as c:
            us = await c.get_country_rules("us", new_request_id())
            fr = await c.get_country_rules("FR", new_request_id())
            sim.country_rules["DE"] = b"<html>oops</html>"
            odd = await c.get_country_rules("DE", new_request_id())
        paths = [e.path for e in sim.log]
    assert us.status == 200
    rules = parse_country_rules(us.body, "US")
    assert rules is not None and "WA" in rules.states
    assert (fr.status, fr.error_code) == (404, "1000")
    assert "FR" in fr.message
    assert odd.status == 200 and parse_country_rules(odd.body, "DE") is None
    assert paths == [
        "/v1/countryvalidationrules/US",
        "/v1/countryvalidationrules/FR",
        "/v1/countryvalidationrules/DE",
    ]


@pytest.mark.parametrize("bad", ["USA", "U", "../x", "1A", ""])
async def test_only_a_two_letter_code_reaches_the_url(bad):
    client = Client("http://127.0.0.1:9", StaticToken("t"), timeout=1, connections=1)
    with pytest.raises(ValueError, match="2-letter"):
        await client.get_country_rules(bad, new_request_id())
