"""`pcbatch login` / `pcbatch logout`: a person's device-code sign-in and its token cache."""

from __future__ import annotations

import os

import click

from batch.core.echo import printable
from batch.core.options import CLOUDS


@click.command()
@click.option(
    "--cloud",
    type=click.Choice(tuple(CLOUDS)),
    default="global",
    show_default=True,
    help="The cloud whose login authority to sign in at ($PC_AUTHORITY overrides it); "
    "runs must use the same --cloud.",
)
@click.option(
    "--tenant",
    help="Your partner tenant: its id or domain.  [default: $PC_TENANT_ID, else organizations]",
)
@click.option(
    "--client-id",
    help="Application (client) id of your app registration, a public client allowed to use "
    "device code.  [default: $PC_CLIENT_ID]",
)
def login(cloud: str, tenant: str | None, client_id: str | None) -> None:
    """Sign in as a person (device code, with MFA) and keep the token cache for later runs.

    Prints a web address and a code: open the address on any device, enter the code and sign
    in with a Partner Center user (Admin agent). The token cache, with its refresh token, is
    stored encrypted where the system has a store for it (Windows DPAPI, macOS Keychain,
    libsecret on Linux), else in your config folder (~/.config/pcbatch/token_cache.json, or
    under $XDG_CONFIG_HOME), readable by you only; PCBATCH_TOKEN_CACHE=file picks the file.
    `pcbatch run` uses it when no PC_* credential variable is set. `pcbatch logout` removes it.

    \b
    Example:
      pcbatch login --tenant contoso.onmicrosoft.com --client-id <application id>
      pcbatch run customers.xlsx --dry-run
    """
    from batch.core.errors import ConfigError, Interrupted
    from batch.wire.login import sign_in

    env = dict(os.environ)
    tenant = (tenant or env.get("PC_TENANT_ID", "")).strip() or "organizations"
    client_id = (client_id or env.get("PC_CLIENT_ID", "")).strip()
    if not client_id:
        raise ConfigError(
            "no client id: give --client-id (or set PC_CLIENT_ID) with the application id of "
            "your Partner Center app registration"
        )
    try:
        who, where = sign_in(
            env,
            cloud=cloud,
            tenant=tenant,
            client_id=client_id,
            show=lambda text: click.echo(printable(text), err=True),  # the server's words
        )
    except KeyboardInterrupt:
        raise Interrupted("sign-in cancelled: nothing was stored") from None
    name = who.username or "an unnamed user"
    click.echo(f"Signed in as {name} ({cloud} cloud, tenant {tenant}).")
    click.echo(f"Token cache: {where}; `pcbatch logout` removes it.")


@click.command()
def logout() -> None:
    """Remove the token cache `pcbatch login` stored; runs then need PC_* credentials again.

    It signs out pcbatch on this account only: the refresh token stays valid at Microsoft
    until it expires or an administrator revokes the user's sessions.

    \b
    Example:
      pcbatch logout
    """
    from batch.wire.login import cache_where, sign_out

    env = dict(os.environ)
    removed = sign_out(env)
    if removed is None:
        click.echo(f"Not signed in: no token cache in {cache_where(env)}.")
    else:
        click.echo(f"Signed out: removed {removed}.")
