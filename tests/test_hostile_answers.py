"""Hostile answers (issue 28, points 4 and 5) over loopback: a small aiohttp.web server that
answers pcbatch's own routes the way a compromised or broken service might. Each ends with a
clear message and the documented exit code, never a traceback; server text reaches no output
raw; no answer is read past its limit; no listing goes on forever.

Not the stand-in: the stand-in answers as Partner Center does, and these answers are exactly
what it never sends. The routes and shapes are the stand-in's (GET/PUT
/v1/customers/{id}/profiles/billing, GET /v1/customers pages with links.next)."""

import contextlib
import csv

import pytest
from aiohttp import web

from batch.core.export_rows import NextPage, PageTrail
from batch.core.options import RunOptions
from batch.engine.export import export_profiles
from batch.engine.run import run_job

CID = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER = "1c9b2f3e-8a7d-4e6f-9b0a-2d3c4e5f6a7b"
EVIL = "\x1b]0;owned\x07\x1b[2J\r\u202egnp.exe\u009b31m"  # OSC title, clear screen, CR, bidi, CSI
FAST = {"rate": 1000.0, "timeout": 2.0, "backoff_base": 0.001, "backoff_cap": 0.002}
TOKEN = {"PC_ACCESS_TOKEN": "hostile-test-token"}  # not a JWT: may go to a loopback server


def profile(cid, etag="1"):
    return {
        "id": cid,
        "firstName": "Ann",
        "companyName": "Contoso",
        "defaultAddress": {
            "country": "FR",
            "city": "Lyon",
            "addressLine1": "1 rue",
            "postalCode": "69001",
        },
        "attributes": {"etag": etag, "objectType": "CustomerBillingProfile"},
    }


@pytest.fixture
async def hostile():
    """Start a loopback server whose handlers a test gives: `url = await hostile(routes)`."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(routes):
            app = web.Application()
            app.add_routes(routes)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            return f"http://127.0.0.1:{port}"

        yield start


def no_rules():
    async def rules(request):
        return web.json_response({"code": "404", "description": "none"}, status=404)

    return web.get("/v1/countryvalidationrules/{iso2}", rules)


def sheet(tmp_path, ids):
    path = tmp_path / "in.csv"
    path.write_text("Customer ID,City\n" + "".join(f"{i},Paris\n" for i in ids), encoding="utf-8")
    return path


def results(out):
    with (out / "results.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def no_raw_controls(text):
    return not any(c in text for c in ("\x1b", "\x07", "\u202e", "\u009b", "\r"))


async def test_server_error_text_is_escaped_in_the_report_and_the_log(hostile, tmp_path, caplog):
    async def get(request):
        return web.json_response(profile(CID))

    async def put(request):
        return web.json_response({"code": "400", "description": EVIL, "data": [EVIL]}, status=400)

    url = await hostile(
        [
            web.get("/v1/customers/{id}/profiles/billing", get),
            web.put("/v1/customers/{id}/profiles/billing", put),
            no_rules(),
        ]
    )
    out = tmp_path / "out"
    options = RunOptions(input=sheet(tmp_path, [CID]), base_url=url, out=out, **FAST)
    result = await run_job(options, TOKEN)
    [line] = results(out)
    assert line["status"] == "rejected"
    assert "\\x1b]0;owned" in line["message"] and no_raw_controls(line["message"])
    assert no_raw_controls((out / "summary.json").read_text(encoding="utf-8"))
    assert no_raw_controls(caplog.text)
    assert result.exit_code == 1


@pytest.mark.parametrize("where", ["header", "body"])
async def test_an_etag_with_a_control_character_fails_the_row_without_a_traceback(
    hostile, tmp_path, where
):
    bad = "abc\r\nX-Injected: 1"

    async def get(request):
        if where == "header":
            body = profile(CID)
            del body["attributes"]["etag"]
            # aiohttp's server sends no control character in a header: a quote inside, then.
            return web.json_response(body, headers={"ETag": 'W/"a" "b"'})
        return web.json_response(profile(CID, etag=bad))

    puts = []

    async def put(request):
        puts.append(request.headers.get("If-Match"))
        return web.json_response(profile(CID))

    url = await hostile(
        [
            web.get("/v1/customers/{id}/profiles/billing", get),
            web.put("/v1/customers/{id}/profiles/billing", put),
            no_rules(),
        ]
    )
    out = tmp_path / "out"
    result = await run_job(
        RunOptions(input=sheet(tmp_path, [CID]), base_url=url, out=out, **FAST), TOKEN
    )
    [line] = results(out)
    assert line["status"] == "failed" and "etag" in line["message"]
    assert puts == [] and result.exit_code == 1


def listing(next_link):
    """A customer-list route: page 1 holds CID and links to `next_link(n)` for page n+1."""
    asked = []

    async def customers(request):
        asked.append(request.headers.get("MS-ContinuationToken"))
        n = len(asked)
        body = {
            "items": [{"id": CID if n == 1 else OTHER, "companyProfile": {"companyName": "C"}}],
            "links": {},
            "attributes": {"objectType": "Collection"},
        }
        link = next_link(n)
        if link is not None:
            body["links"]["next"] = link
        return web.json_response(body)

    async def get(request):
        return web.json_response(profile(request.match_info["id"]))

    return asked, [
        web.get("/v1/customers", customers),
        web.get("/v1/customers/{id}/profiles/billing", get),
    ]


def link(uri, token):
    return {
        "uri": uri,
        "method": "GET",
        "headers": [{"key": "MS-ContinuationToken", "value": token}],
    }


@pytest.mark.parametrize(
    ("next_link", "words"),
    [
        (lambda n: link("/v1/../admin/customers?seekOperation=Next", "t"), "does not point under"),
        (
            lambda n: link("/v1/customers?seekOperation=Next", "t\r\nX-Evil: 1"),
            "not a header value",
        ),
        (
            lambda n: link("/v1/customers?seekOperation=Next\r\nHost: evil", "t"),
            "does not point under",
        ),
        (
            lambda n: link("/v1/customers?seekOperation=Next", "same") if n < 5 else None,
            "going in circles",
        ),
        (lambda n: link("/v1/customers?seekOperation=Next", "ab"[n % 2]), "going in circles"),
    ],
    ids=["dot-segments", "crlf-token", "crlf-uri", "repeated-token", "two-token-cycle"],
)
async def test_a_hostile_next_link_ends_the_listing_with_a_clear_error(
    hostile, tmp_path, caplog, next_link, words
):
    asked, routes = listing(next_link)
    url = await hostile(routes)
    result = await export_profiles(RunOptions(base_url=url, **FAST), tmp_path / "x.csv", TOKEN)
    assert result.exit_code == 1
    assert words in caplog.text and "Traceback" not in caplog.text
    assert len(asked) <= 3  # at most: the first page, the one that repeats, never more
    # The listing did not finish: what was read is kept under a partial name, never x.csv.
    assert not (tmp_path / "x.csv").exists()
    assert result.output == tmp_path / "x.partial.csv" and result.output.exists()


def test_a_page_trail_stops_an_endless_list_at_its_limit():
    trail = PageTrail(limit=3)
    assert trail.follow(NextPage("u", "t1")) is None
    assert trail.follow(NextPage("u", "t2")) is None
    assert "past 3 pages" in trail.follow(NextPage("u", "t3"))
    again = PageTrail()
    again.follow(NextPage("u", "x"))
    assert "in circles" in again.follow(NextPage("u", "x"))


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_answer_over_its_limit_is_not_read_and_the_row_fails_saying_so(
    hostile, tmp_path, declared
):
    big = b'{"pad": "' + b"x" * (2 << 20) + b'"}'

    async def get(request):
        if declared:
            return web.Response(body=big, content_type="application/json")
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(big), 1 << 16):
            try:
                await response.write(big[start : start + (1 << 16)])
            except ConnectionError:
                break  # the client stopped reading: what it should do
        return response

    url = await hostile([web.get("/v1/customers/{id}/profiles/billing", get), no_rules()])
    out = tmp_path / "out"
    options = RunOptions(
        input=sheet(tmp_path, [CID]), base_url=url, out=out, max_attempts=2, **FAST
    )
    result = await run_job(options, TOKEN)
    [line] = results(out)
    assert line["status"] == "failed" and "over 1 MiB" in line["message"]
    assert result.exit_code == 1
