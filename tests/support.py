"""Small helpers the tests share: an input sheet, the report read back, the CLI, the stand-in.

Credential variables need no clearing here: conftest's autouse fixture removes every PC_* one.
"""

import csv
import json

from click.testing import CliRunner

from batch.cli import cli
from batch.core.options import RunOptions
from batch.engine.run import run_job


def city_sheet(path, ids, city="Newtown"):
    """A csv moving customer i to "<city> i"; returns its path."""
    lines = ["Customer ID,City"] + [f"{cid},{city} {i}" for i, cid in enumerate(ids)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_results(out):
    """results.csv of a report as dicts, in file order; fails if a row is reported twice."""
    with (out / "results.csv").open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    assert len({line["row"] for line in lines}) == len(lines), "a row is reported twice"
    return lines


def read_summary(out):
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def invoke(args, sim):
    """`pcbatch ARGS` signed in to the stand-in with its static token."""
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def app_env(sim, **changes):
    """App-only credentials of the stand-in at its loopback authority; a change of None unsets."""
    config = sim.config
    env = {
        "PC_TENANT_ID": config.tenant_id,
        "PC_CLIENT_ID": config.client_id,
        "PC_CLIENT_SECRET": config.client_secret,
        "PC_AUTHORITY": sim.base_url,
        **changes,
    }
    return {k: v for k, v in env.items() if v is not None}


def token_requests(sim):
    """The token requests (POST .../token) the stand-in answered, in order."""
    return [e for e in sim.log if e.method == "POST" and e.path.endswith("/token")]


def rest(sim):
    """The Partner Center REST requests (/v1/...) the stand-in answered, in order."""
    return [e for e in sim.log if e.path.startswith("/v1/")]


def after_requests(sim, n, act):
    """Call act() as the stand-in logs its n-th billing-profile request (the country rules'
    GETs not counted), before that answer goes out."""
    logged = 0

    class Log(list):
        def append(self, entry):
            nonlocal logged
            super().append(entry)
            if entry.path.startswith("/v1/customers/"):
                logged += 1
                if logged == n:
                    act()

    sim.log = Log(sim.log)


async def run_fast(sim, sheet, out, **options):
    """`run_job` on `sheet` against the stand-in `sim`, paced and retried for a quick test
    (rate 500, 4 customers in flight, 2 s timeout, 10-50 ms backoff); `options` override."""
    defaults = {
        "base_url": sim.base_url,
        "out": out,
        "rate": 500.0,
        "concurrency": 4,
        "timeout": 2.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    opts = RunOptions(input=sheet, **{**defaults, **options})
    return await run_job(opts, {"PC_ACCESS_TOKEN": sim.token})
