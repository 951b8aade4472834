"""`pcbatch secret set` / `pcbatch secret delete`: the client secret in the credential store."""

from __future__ import annotations

import click


@click.group()
def secret() -> None:
    """Keep the app's client secret in the system's credential store instead of a variable.

    Windows Credential Manager, the macOS Keychain, or the Secret Service on a Linux desktop
    (the `keyring` package picks it). `set` asks for the secret at a hidden prompt, never on
    the command line. A run then reads it when PCBATCH_SECRET=keyring is set and
    PC_CLIENT_SECRET is not (PC_TENANT_ID and PC_CLIENT_ID still name the app).

    \b
    Example:
      pcbatch secret set
      PCBATCH_SECRET=keyring pcbatch run customers.xlsx --dry-run
    """


@secret.command("set")
def set_secret() -> None:
    """Store the client secret (asked at a hidden prompt, twice).

    \b
    Example:
      pcbatch secret set
    """
    from batch.wire.secret_store import SECRET_NAME, store_secret

    value = click.prompt(
        f"{SECRET_NAME} (the secret's value)", hide_input=True, confirmation_prompt=True
    ).strip()
    store = store_secret(value)
    click.echo(f"Stored {SECRET_NAME} in {store}; runs read it with PCBATCH_SECRET=keyring.")


@secret.command("delete")
def delete_secret() -> None:
    """Remove the stored client secret.

    \b
    Example:
      pcbatch secret delete
    """
    from batch.wire.secret_store import SECRET_NAME, delete_secret

    removed = delete_secret()
    click.echo(f"Removed {SECRET_NAME}." if removed else f"No {SECRET_NAME} was stored.")
