"""``kitaru login`` / ``logout`` and ``kitaru auth``: the server connection and API keys."""

from __future__ import annotations

from typing import Any

import click

from kitaru.cli.output import output_option, yes_option


@click.command()
@click.argument("url")
@click.option("--api-key", required=True, envvar="KITARU_API_KEY", metavar="KEY",
              help="A workspace API key (or set KITARU_API_KEY).")  # fmt: skip
def login(url: str, api_key: str) -> None:
    """Use the Kitaru server at URL for every later command and SDK call."""
    from kitaru.connection import login as do_login

    info = do_login(url, api_key)
    click.echo(f"logged in to {url} (server kitaru {info.get('version')})")


@click.command()
def logout() -> None:
    """Forget the saved server login: back to the local store."""
    from kitaru.connection import logout as do_logout

    click.echo("logged out" if do_logout() else "was not logged in")


@click.group()
def auth() -> None:
    """Service accounts and API keys of the server you are logged in to."""


def _api(method: str, path: str, body: Any = None) -> Any:
    from kitaru.connection import api, current_server

    return api(current_server(), method, path, body)


def _print(
    ctx: click.Context, output: str, items: list[dict[str, Any]], columns: list[str]
) -> None:
    from kitaru.cli import output as out

    if output == "json":
        out.print_json(ctx.command_path.removeprefix("kitaru "), items)
        return
    table = out._table()
    for c in columns:
        table.add_column(c, no_wrap=True)
    for item in items:
        table.add_row(*[out._t(item.get(c.replace(" ", "_"))) for c in columns])
    out.console().print(table)


@auth.group("service-accounts")
def service_accounts() -> None:
    """Create and list service accounts (admins only)."""


@service_accounts.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["member", "admin"]), default="member", show_default=True)
@click.option("--description", default="")
def sa_create(name: str, role: str, description: str) -> None:
    """Create service account NAME (then give it a key: kitaru auth api-keys create NAME)."""
    _api("POST", "/auth/service-accounts", {"name": name, "role": role,
                                             "description": description})  # fmt: skip
    click.echo(f"created service account {name!r} ({role})")


@service_accounts.command("list")
@output_option
@click.pass_context
def sa_list(ctx: click.Context, output: str) -> None:
    """Users and service accounts of the workspace."""
    _print(
        ctx, output, _api("GET", "/auth/service-accounts"), ["name", "kind", "role", "description"]
    )


@auth.group("api-keys")
def api_keys() -> None:
    """Create, list, rotate and revoke API keys. A key is shown once, when created."""


def _show_key(data: dict[str, Any], verb: str) -> None:
    click.echo(f"{verb} API key {data['key_id']} for {data['principal']}; it is shown once:")
    click.echo(data["key"])


@api_keys.command("create")
@click.argument("principal")
@click.option("--label", default="", help="What the key is for.")
def key_create(principal: str, label: str) -> None:
    """A new key for user or service account PRINCIPAL (admins only)."""
    _show_key(_api("POST", "/auth/api-keys", {"principal": principal, "label": label}), "created")


@api_keys.command("list")
@output_option
@click.pass_context
def key_list(ctx: click.Context, output: str) -> None:
    """Keys (never their secrets): all for admins, your own otherwise."""
    _print(ctx, output, _api("GET", "/auth/api-keys"),
           ["key id", "principal", "label", "active"])  # fmt: skip


@api_keys.command("rotate")
@click.argument("key_id")
@yes_option
def key_rotate(key_id: str, yes: bool) -> None:
    """Replace KEY_ID with a new key (the old one stops working at once)."""
    from kitaru.cli.output import confirm

    confirm(f"rotate API key {key_id} (the old key stops working at once)", yes)
    _show_key(_api("POST", f"/auth/api-keys/{key_id}/rotate"), "rotated to")


@api_keys.command("revoke")
@click.argument("key_id")
@yes_option
def key_revoke(key_id: str, yes: bool) -> None:
    """Revoke KEY_ID: every request with it is refused from now on."""
    from kitaru.cli.output import confirm

    confirm(f"revoke API key {key_id}", yes)
    _api("POST", f"/auth/api-keys/{key_id}/revoke")
    click.echo(f"revoked API key {key_id}")
