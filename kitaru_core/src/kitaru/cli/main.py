"""The ``kitaru`` command: root group, error reporting and lazy subcommand loading.

Importing this module costs click and nothing else heavy: subcommand modules are imported only
when their command is resolved, and every command imports its implementation (client, store,
rich, ...) inside its function body. ``kitaru --help`` lists commands from the table below
without importing them.

Errors: without ``--debug`` every failure is one ``error: <message>`` line, plus a ``hint:``
line when the error carries one, on stderr; the exit code is the error's ``exit_code``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from kitaru.errors import one_line

#: name -> (module, attribute, one-line help shown by ``kitaru --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("kitaru.cli.run", "run", "Run a flow from a Python file (FILE.py:FLOW)."),
    "executions": (
        "kitaru.cli.executions",
        "executions",
        "List, inspect, answer, resume, retry, replay and cancel executions.",
    ),
    "artifacts": ("kitaru.cli.artifacts", "artifacts", "List, show and load execution artifacts."),
    "stack": ("kitaru.cli.stack", "stack", "Register, inspect, switch and verify stacks."),
    "component": ("kitaru.cli.component", "component", "Register and inspect stack components."),
    "flavor": ("kitaru.cli.flavor", "flavor", "List installed component flavors."),
    "plugin": ("kitaru.cli.plugin", "plugin", "List plugins and their load errors."),
    "secret": ("kitaru.cli.secret", "secret", "Set, get, list and delete secrets."),
    "memory": ("kitaru.cli.memory", "memory", "Get, set, list, version and delete memory."),
    "server": ("kitaru.cli.server", "server", "Run a Kitaru server (REST API, auth)."),
    "serve": ("kitaru.cli.server", "serve_command", "Serve deployed flows, warm, in one process."),
    "ui": ("kitaru.cli.ui", "ui", "Open the dashboard over this machine's store (no server)."),
    "build": ("kitaru.cli.deployments", "build", "Build the container image a flow runs in."),
    "deploy": ("kitaru.cli.deployments", "deploy", "Deploy a flow as a new immutable version."),
    "invoke": ("kitaru.cli.deployments", "invoke", "Run a deployed flow by tag or version."),
    "deployments": ("kitaru.cli.deployments", "deployments", "List, show, tag deployments."),
    "schedule": ("kitaru.cli.schedule", "schedule", "Start deployed flows on a cron schedule."),
    "smoke": ("kitaru.cli.smoke", "smoke", "Run a flow on a stack with local stand-ins (CI)."),
    "login": ("kitaru.cli.auth", "login", "Use a Kitaru server for every later command."),
    "logout": ("kitaru.cli.auth", "logout", "Forget the saved server login."),
    "auth": ("kitaru.cli.auth", "auth", "Service accounts and API keys of the server."),
    "completion": ("kitaru.cli.completion", "completion", "Print the shell completion script."),
    "mcp": ("kitaru.cli.mcp", "mcp", "Serve Kitaru's tools to an agent over MCP (stdio)."),
}

_DEBUG_ENV = "KITARU_DEBUG"


class _State:
    debug = False


state = _State()


def _fail(message: str, hint: str | None, code: int, exc: BaseException | None) -> NoReturn:
    if state.debug and exc is not None:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    click.echo(f"error: {one_line(message)}", err=True)
    if hint:
        click.echo(f"hint: {one_line(hint)}", err=True)
    sys.exit(code or 1)


def report(exc: Exception) -> NoReturn:
    """Print ``exc`` as the CLI's one-line error (+ hint) and exit with its code."""
    from kitaru.errors import KitaruError

    if isinstance(exc, KitaruError):
        code = getattr(exc, "exit_code", 1)
        _fail(
            exc.message or type(exc).__name__, exc.hint, code if isinstance(code, int) else 1, exc
        )
    from kitaru.imports import missing_extra

    if (missing := missing_extra(exc)) is not None:
        _fail(*missing, 1, exc)
    from kitaru.store import storage_error

    refused = storage_error(exc)  # a read-only store or home: the machine's, not a bug
    if refused is not None:
        _fail(refused.message, refused.hint, 1, exc)
    _fail(
        f"internal error: {type(exc).__name__}: {exc}",
        None if state.debug else "re-run with --debug for the traceback",
        1,
        exc,
    )


class KitaruGroup(click.Group):
    """A group whose subcommands live in other modules, imported on first use."""

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        if cmd_name not in self.lazy:
            return self._plugin_command(cmd_name)
        module, attr, _ = self.lazy[cmd_name]
        cmd = getattr(importlib.import_module(module), attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{module}.{attr} is not a click command")
        self.add_command(cmd, cmd_name)
        return cmd

    def _plugin_command(self, cmd_name: str) -> click.Command | None:
        """Commands from the ``kitaru_cli_commands`` hook, looked up only for names the core
        does not have (so ``kitaru --help`` and core commands never load plugins)."""
        if self.name != "kitaru":
            return None
        from kitaru.plugins.manager import plugin_manager

        for cmd in plugin_manager().cli_commands():
            if isinstance(cmd, click.Command) and cmd.name == cmd_name:
                self.add_command(cmd, cmd_name)
                return cmd
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List lazy commands from their table entry, without importing them."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][2]))
                continue
            cmd = super().get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the CLI; in standalone mode every non-click error becomes ``error:``/``hint:``."""
        argv = list(sys.argv[1:] if args is None else args)
        state.debug = "--debug" in argv or os.environ.get(_DEBUG_ENV, "") not in ("", "0")
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            return super().main(argv, prog_name or "kitaru", complete_var, True, **extra)
        except SystemExit:
            raise
        except Exception as exc:
            report(exc)


@click.group(
    "kitaru",
    cls=KitaruGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
@click.version_option(package_name="kitaru", prog_name="kitaru", message="%(prog)s %(version)s")
def cli(debug: bool) -> None:
    """Kitaru: durable execution for Python agents.

    Run flows, inspect executions, answer their waits, resume, retry and replay them;
    register and switch stacks, their components and secrets; list flavors and plugins.
    """
    if debug:
        state.debug = True


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry point (``kitaru``)."""
    cli.main(args, prog_name="kitaru")


if __name__ == "__main__":
    main()
