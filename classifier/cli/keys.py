"""`keys create | list | revoke`: the API keys a CRM or a script calls the service with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from classifier.cli.console import err, fail
from classifier.keys import SCOPES, ApiKey, KeyProblem, KeyRing
from classifier.settings import get_settings
from classifier.store import Store

keys_app = typer.Typer(
    help="API keys: create (shown once), list, revoke. Only a hash of each key is stored.",
    no_args_is_help=True,
)


def _ring() -> tuple[Store, KeyRing]:
    settings = get_settings()
    try:
        store = Store.open(settings.database_url)
    except SQLAlchemyError as exc:
        raise fail(f"cannot open the database {settings.database_url}: {exc}") from exc
    return store, KeyRing(store.engine)


def _row(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": list(key.scopes),
        "created": key.created.isoformat(timespec="seconds"),
        "revoked": key.revoked.isoformat(timespec="seconds") if key.revoked else None,
    }


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who will use the key, e.g. crm.")],
    scopes: Annotated[
        str, typer.Option(help=f"Comma-separated scopes: {', '.join(SCOPES)}.")
    ] = "triage",
) -> None:
    """Create a key and print it once; keep it in the caller's secret store."""
    store, ring = _ring()
    try:
        key, text = ring.create(name, scopes.split(","), datetime.now(UTC))
    except KeyProblem as exc:
        raise fail(str(exc)) from exc
    finally:
        store.close()
    typer.echo(text)
    err.print(
        f"created key {key.id} ({key.name}; scopes {', '.join(key.scopes)}). It is shown only"
        " this once: send it as `Authorization: Bearer <key>`.",
        highlight=False,
    )


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every key's id, name, scopes, creation and revocation time (never the key itself)."""
    store, ring = _ring()
    try:
        keys = ring.list()
    finally:
        store.close()
    if as_json:
        for key in keys:
            typer.echo(json.dumps(_row(key)))
        return
    if not keys:
        err.print("no keys yet: `complaint-triage keys create --name crm --scopes triage`")
        return
    typer.echo(f"{'id':<14}{'name':<20}{'scopes':<26}{'created':<27}revoked")
    for key in keys:
        row = _row(key)
        typer.echo(
            f"{key.id:<14}{key.name[:19]:<20}{','.join(key.scopes):<26}"
            f"{row['created']!s:<27}{row['revoked'] or '-'}"
        )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id from `keys list`.")]) -> None:
    """Revoke a key: refused at once by this machine's servers, within 5 s by every worker."""
    store, ring = _ring()
    try:
        key = ring.revoke(key_id, datetime.now(UTC))
    except KeyProblem as exc:
        raise fail(str(exc)) from exc
    finally:
        store.close()
    typer.echo(f"revoked {key.id} ({key.name}) at {_row(key)['revoked']}")
