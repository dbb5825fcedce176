"""`riskwire keys create | list | revoke`: API keys in the Redis of the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from store.api_keys import KeyInfo

#: store.api_keys.Role's values, spelled out: `--help` stays free of the Redis client and
#: the store (tests/cli/test_cli_fast.py checks they match).
ROLES = ("analyst", "admin", "service")


@click.group("keys")
def keys() -> None:
    """Manage API keys (only their peppered HMAC-SHA-256 hashes are stored, in Redis)."""


@keys.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the key may do.")
@click.option("--account", default=None, help="Bind the key to one account (tenant). Default: all accounts.")
@click.option("--name", required=True, help="Who or what uses the key.")
def create(role: str, account: str | None, name: str) -> None:
    """Create a key and print its secret (shown only this once) on stdout."""
    from contracts.settings import Settings
    from store.key_admin import create_key

    info, secret = create_key(Settings(), role, account, name)
    click.echo(f"created key {info.id}: role {info.role}, account {info.account or '(all)'}", err=True)
    click.echo(secret)
    click.echo("the secret is not stored: keep it now, it cannot be shown again", err=True)


def _row(k: KeyInfo) -> str:
    state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
    return (
        f"{k.id}  {k.role.value:<8} {(k.account or '(all)'):<20} {k.created_at[:19]}  {state:<10}  {k.name}"
    )


@keys.command("list")
def list_keys() -> None:
    """List keys (never their secrets)."""
    from contracts.settings import Settings
    from store.key_admin import with_key_store

    found = with_key_store(Settings(), lambda s: s.list())
    click.echo(f"{'id':<16}  {'role':<8} {'account':<20} {'created':<19}  {'state':<10}  name")
    for k in found:
        click.echo(_row(k))


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key: it answers 401 from now on."""
    from contracts.settings import Settings
    from store.audit import CLI_ACTOR
    from store.key_admin import with_key_store

    info, revoked = with_key_store(Settings(), lambda s: s.revoke(key_id, by=CLI_ACTOR))
    if info is None:
        raise click.ClickException(f"no key {key_id!r}")
    if not revoked:
        raise click.ClickException(f"key {key_id} was already revoked at {info.revoked_at}")
    click.echo(f"revoked key {key_id}")
