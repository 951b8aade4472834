"""`pcbatch simulate`: the Partner Center stand-in on loopback, every setting a flag."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batch.core.errors import ConfigError
from batch.durable.files import check_target

if TYPE_CHECKING:
    from batch.simulator import SimConfig, Simulator
    from batch.simulator.config import LoggedRequest

# Requests `pcbatch simulate` keeps in its log: a long rehearsal must not grow without bound.
LOG_LIMIT = 10_000


def _simulator_options(command: click.decorators.FC) -> click.decorators.FC:
    """One flag per SimConfig setting; help texts and units live in batch/simulator/config.py."""
    from batch.simulator.config import FROM_ENVIRONMENT, HELP, SETTINGS, SimConfig

    defaults = SimConfig()
    for name in reversed(SETTINGS):
        if name in FROM_ENVIRONMENT:  # secrets: never on a command line
            continue
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        shown: dict[str, object] = {"help": HELP[name], "show_default": default is not None}
        if name in ("bom", "require_if_match", "country_rules"):
            option = click.option(f"{flag}/--no-{flag[2:]}", default=default, **shown)
        elif name == "customers_file":
            option = click.option(flag, type=click.Path(exists=True, dir_okay=False), **shown)
        elif name == "stale_etag_status":
            option = click.option(flag, type=click.Choice(["412", "400"]), default="412", **shown)
        elif name == "retry_after_s":
            option = click.option(flag, type=click.IntRange(min=0), metavar="S", **shown)
        elif name == "audit_status":
            option = click.option(flag, type=click.IntRange(400, 599), metavar="STATUS", **shown)
        elif name == "no_relationship":
            option = click.option(flag, metavar="CUSTOMER_ID", **shown)
        elif default is None:
            option = click.option(flag, type=float, metavar="R", **shown)
        else:
            option = click.option(flag, type=type(default), default=default, **shown)
        command = option(command)
    return command


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on: loopback only (127.0.0.1, ::1, localhost); others are refused.",
)
@click.option(
    "--port",
    default=8479,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one.",
)
@click.option(
    "--state-out",
    type=click.Path(dir_okay=False),
    help="On Ctrl-C (or SIGTERM), write every profile to this JSON file, in the "
    "--customers-file format.",
)
@click.option(
    "--write-sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    help="At start, write the customers' billing profiles to this .xlsx or .csv file (written "
    "over), in the columns `pcbatch export` writes and `pcbatch run` reads.",
)
@_simulator_options
def simulate(
    host: str, port: int, state_out: str | None, write_sheet: Path | None, **settings: object
) -> None:
    """Serve the Partner Center stand-in on loopback until Ctrl-C.

    It answers GET/PUT /v1/customers/{id}/profiles/billing, GET /v1/customers, POST
    /v1/validations/address, GET /v1/countryvalidationrules/{iso2} and an OAuth token endpoint
    as the documented API does (etags, BOM, error shapes, 429s, country rules), with the faults
    you ask for. It prints its base URL, a ready bearer token and an example run. The token
    endpoint accepts --client-id with $PCSIM_CLIENT_SECRET, and $PCSIM_REFRESH_TOKEN; unset, each
    is random at every start and printed. It answers only requests addressed to 127.0.0.1,
    localhost or [::1] with its port. Probabilities are per request, 0..1.

    \b
    Example:
      pcbatch simulate --customers 1000 --seed 7 --concurrent-writer 0.1 --state-out after.json
      pcbatch simulate --customers 1000 --write-sheet customers.xlsx
      PC_BASE_URL=http://127.0.0.1:8479 PC_ACCESS_TOKEN=<the printed token> \\
        pcbatch run customers.xlsx --dry-run
    """
    config, made_up = _config(settings)
    if state_out is not None:
        _check_writable(Path(state_out))
    if write_sheet is not None:
        from batch.output.export_writer import check_output

        check_output(write_sheet, overwrite=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
        asyncio.run(_serve(config, host, port, state_out, write_sheet, made_up))
    click.echo("pcbatch simulator stopped.", err=True)


def _config(settings: dict[str, object]) -> tuple[SimConfig, list[str]]:
    """The SimConfig the flags and the environment ask for, and the names of the secrets the
    environment left unset (made up at start, so to be printed)."""
    from batch.simulator import SimConfig
    from batch.simulator.config import FROM_ENVIRONMENT

    settings["stale_etag_status"] = int(str(settings["stale_etag_status"]))
    if settings["no_relationship"] is not None:
        settings["no_relationship"] = str(settings["no_relationship"]).strip().lower()
    if settings["customers_file"] is not None:
        settings["customers_file"] = Path(str(settings["customers_file"]))
    for name, variable in FROM_ENVIRONMENT.items():
        settings[name] = os.environ.get(variable) or ""  # "": random at start, printed below
    made_up = [name for name in FROM_ENVIRONMENT if not settings[name]]
    config = dataclasses.replace(SimConfig(), **settings)  # type: ignore[arg-type]
    return config, made_up


async def _serve(
    config: SimConfig,
    host: str,
    port: int,
    state_out: str | None,
    write_sheet: Path | None,
    made_up: list[str],
) -> None:
    """Serve until SIGINT or SIGTERM: the sheet written and the banner printed first, the
    state written last."""
    from batch.simulator import run_simulator

    log: collections.deque[LoggedRequest] = collections.deque(maxlen=LOG_LIMIT)
    async with run_simulator(config, host, port, log) as sim:
        stop = asyncio.Event()
        # Before the banner: a signal sent as soon as it shows must still write the state.
        # Not every platform has add_signal_handler; Ctrl-C works everywhere regardless.
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        ids = sim.store.ids()
        if write_sheet is not None:
            from batch.output.export_writer import write_sheet as write_profiles

            store = sim.store
            rows = write_profiles(write_sheet, ((cid, store.profile(cid)) for cid in ids))
            click.echo(f"Sheet of {rows} customers written to {write_sheet}", err=True)
        _print_banner(sim, config, ids, made_up)
        try:
            await stop.wait()
        finally:
            if state_out is not None:
                _write_state(sim, state_out, len(ids))


def _print_banner(sim: Simulator, config: SimConfig, ids: list[str], made_up: list[str]) -> None:
    """Where the stand-in is, how to sign in to it, and an example run."""
    click.echo(f"pcbatch simulator: {len(ids)} customers at {sim.base_url}")
    click.echo(f"  base URL:       {sim.base_url}")
    click.echo(f"  access token:   {sim.token}  (valid {config.token_lifetime_s:g} s)")
    click.echo(
        f"  token endpoint: {sim.base_url}/{config.tenant_id}/oauth2/v2.0/token"
        f"  (client id {config.client_id})"
    )
    # Made up at this start: print them, or nobody could sign in. A value given in the
    # environment is the caller's and stays unprinted.
    if "client_secret" in made_up:
        click.echo(
            f"  client secret:  {config.client_secret}  (random; set"
            " $PCSIM_CLIENT_SECRET to choose it)"
        )
    if "refresh_token" in made_up:
        click.echo(
            f"  refresh token:  {config.refresh_token}  (random; set"
            " $PCSIM_REFRESH_TOKEN to choose it)"
        )
    if ids:
        more = ", ..." if len(ids) > 3 else ""
        click.echo(f"  customers:      {', '.join(ids[:3])}{more}")
    click.echo("Try, in another terminal:")
    click.echo(
        f"  PC_BASE_URL={sim.base_url} PC_ACCESS_TOKEN={sim.token}"
        " pcbatch run customers.xlsx --dry-run"
    )
    click.echo("Ctrl-C stops it.")


def _write_state(sim: Simulator, state_out: str, customers: int) -> None:
    """--state-out: every profile written to the file, on the way out."""
    try:
        sim.export_state(Path(state_out))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the simulator's state to {state_out}: {exc.strerror or exc}"
        ) from exc
    click.echo(f"State of {customers} customers written to {state_out}", err=True)


def _check_writable(path: Path) -> None:
    """Refuse --state-out up front when it could not be written at the end (edits would be lost)."""
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(
            f"--state-out {path}: the folder {folder} does not exist (or is not a folder);"
            " create it or pick another place"
        )
    check_target(path)  # a symlink or another user's file: refused before the stand-in starts
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(
            f"--state-out {path}: cannot write there (permission denied); pick another file"
        )
