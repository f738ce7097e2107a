"""``docs/cli.md``, generated from the click commands themselves:
``python -m kitaru.cli.reference > docs/cli.md`` (a test checks the file is current).

Only the core's commands are listed: plugins' commands (``kitaru_cli_commands``) are documented
with their plugins.
"""

from __future__ import annotations

import click

HEADER = """\
# CLI reference

Generated from the commands (`python -m kitaru.cli.reference > docs/cli.md`); a test checks
that this file is current. `kitaru COMMAND --help` prints the same text.

## Exit codes and errors

Every failure prints one `error: ...` line, and a `hint: ...` line when there is a next step,
on stderr (`kitaru --debug ...` prints the traceback too). The exit code says what kind:

| code | meaning | e.g. |
|---|---|---|
| 0 | it worked | |
| 1 | the operation failed (a flow failed, a service is unreachable, a config is invalid) | `kitaru run` of a flow that raises |
| 2 | usage: wrong arguments or options | `kitaru executions input ID` without `--value` |
| 3 | not found: no such execution, artifact, stack, component, flavor, template, secret, schedule, flow file or flow in it | `kitaru stack describe nope`; `kitaru run flows.py:nope` |
| 4 | conflict: someone else got there first, the name is taken, or it is in use | a wait already answered; `stack register` of an existing name; `stack delete` of the active or builtin stack |
| 5 | authentication or permission | a revoked API key; a member managing keys |

`-o json` (`--output json`) prints `{"command": ..., "items": [...]}` on every list, show and
describe command; times in it are ISO-8601 UTC strings (`2026-12-06T10:11:28.123Z`).

Shell completion (commands, options, execution ids, stack and component names):
`eval "$(kitaru completion bash)"` in `~/.bashrc` (`zsh` likewise; fish:
`kitaru completion fish > ~/.config/fish/completions/kitaru.fish`).

## Environment variables

| variable | what it sets | default |
|---|---|---|
| `KITARU_HOME` | where the embedded store, config, secrets and logins live | `~/.kitaru` |
| `KITARU_DB_URL` | a `postgresql://` metadata store instead of SQLite under `KITARU_HOME` | |
| `KITARU_SERVER_URL`, `KITARU_API_KEY` | use a Kitaru server (instead of `kitaru login`'s saved one) | |
| `KITARU_CONNECT_TIMEOUT` | seconds to wait for an unreachable server (60 in a unit) | 5 |
| `KITARU_NOTIFY` | `0`: on PostgreSQL, waits poll instead of listening (`LISTEN`) for changes, e.g. behind PgBouncer in transaction mode (docs/scale.md) | 1 |
| `KITARU_STACK` | the active stack, over `kitaru stack use` | |
| `KITARU_INLINE_LIMIT` | bytes up to which a value is stored inline, not in the artifact store | 65536 |
| `KITARU_LEASE_TTL`, `KITARU_HEARTBEAT_INTERVAL` | seconds a runner's lease lasts / between its heartbeats | 10, 1 |
| `KITARU_ALLOW_PICKLE` | `0`: refuse pickle as the last-resort serializer | 1 |
| `KITARU_PLUGINS` | comma-separated entry-point names to load (empty: none) | all |
| `KITARU_STRICT_PLUGINS` | `1`: a plugin that fails to load is an error | |
| `KITARU_DEBUG` | `1`: tracebacks with CLI errors, as `--debug` | |
| `KITARU_CACHE` | where `kitaru build` keeps wheels it built | `~/.cache/kitaru` |
| `KITARU_CODE_MAP` | in a unit: recorded code path = path in the image, comma separated | |
| `KITARU_SMOKE_REGISTRY`, `KITARU_SMOKE_LLM_KEY` | `kitaru smoke`: the registry images go to, the LLM key (docs/ci.md) | |
| `KITARU_SMOKE_KUBECONFIG` | `kitaru smoke` of a kubernetes stack: the cluster to use even if it is not on this machine (docs/ci.md) | |
| `KITARU_OTEL` | `1`: send traces and metrics over OTLP/HTTP, configured by the standard `OTEL_EXPORTER_OTLP_*` variables (docs/observability.md) | |

Set by orchestrators for their units (see docs/plugins.md, "A remote orchestrator"):
`KITARU_SECRET_ENV` and `KITARU_SECRET_STORE` (secret references and the store resolving them),
`KITARU_CHECKPOINT_INPUT` and `KITARU_REPLY_KEY` (an isolated checkpoint's inputs and reply);
by kitaru-kubernetes: `KITARU_KUBERNETES_IN_CLUSTER` (docs/stacks/kubernetes.md).
"""


def _walk(command: click.Command, name: str, parent: click.Context, out: list[str]) -> None:
    # a child of the real root context (help options and settings are inherited, as when the
    # command runs); a fixed width: the file must not depend on the terminal that made it
    ctx = click.Context(command, info_name=name, parent=parent, terminal_width=100,
                        max_content_width=100)  # fmt: skip
    out += [f"## {ctx.command_path}", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                _walk(sub, sub_name, ctx, out)


def render() -> str:
    """The whole reference, as Markdown."""
    from kitaru.cli.main import COMMANDS, cli

    out = [HEADER]
    ctx = click.Context(
        cli, info_name="kitaru", terminal_width=100, max_content_width=100, **cli.context_settings
    )
    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        assert command is not None, name
        _walk(command, name, ctx, out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    click.echo(render(), nl=False)
