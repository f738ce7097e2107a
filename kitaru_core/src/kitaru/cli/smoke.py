"""``kitaru smoke FILE.py:FLOW --stack NAME``: the flow end to end on the stack, with local
stand-ins for the cloud (docs/ci.md)."""

from __future__ import annotations

import click

from kitaru.cli.output import output_option


def _pairs(option: str, items: tuple[str, ...], *, as_json: bool) -> dict[str, object]:
    from kitaru.cli.params import parse_json
    from kitaru.errors import UsageError

    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            example = "approve_draft=true" if as_json else "llm.api_key=sk-..."
            raise UsageError(
                f"{option} {item!r} is not NAME=VALUE", hint=f"e.g. {option} {example}"
            )
        out[key] = parse_json(option, raw, what=key) if as_json else raw
    return out


@click.command()
@click.argument("target", metavar="FILE.py:FLOW")
@click.option("--stack", "stack", required=True, metavar="NAME|FILE",
              help="The stack: a registered name or a stack YAML file.")  # fmt: skip
@click.option("--input", "input_json", metavar="JSON", help="The flow's inputs, a JSON object.")
@click.option("--answer", "answers", multiple=True, metavar="WAIT=JSON",
              help="Answer the wait WAIT with this JSON value (repeatable).")  # fmt: skip
@click.option("--secret", "secrets", multiple=True, metavar="NAME.KEY=VALUE",
              help="A value for a secret the stack references (default: a placeholder).")  # fmt: skip
@click.option("--llm-key", envvar="KITARU_SMOKE_LLM_KEY", metavar="KEY",
              help="Call the stack's LLM provider with this key (default: answer offline).")  # fmt: skip
@click.option("--registry", envvar="KITARU_SMOKE_REGISTRY", metavar="HOST:PORT",
              help="The registry images are pushed to in place of the stack's.")  # fmt: skip
@click.option("--timeout", type=float, default=900.0, show_default=True,
              help="Seconds the flow may take, from invoke to its end.")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Print progress while it runs.")
@output_option
def smoke(
    target: str, stack: str, input_json: str | None, answers: tuple[str, ...],
    secrets: tuple[str, ...], llm_key: str | None, registry: str | None, timeout: float,
    verbose: bool, output: str,
) -> None:  # fmt: skip
    """Run FLOW end to end on STACK with stand-ins for its cloud services (moto, emulators, a
    local registry), as a CI smoke test: build, push, deploy, run, answer waits. Exits 0 if
    the flow completed, 1 otherwise, with a report of what stood in for each component."""
    from kitaru.cli import output as out
    from kitaru.cli.params import parse_object
    from kitaru.smoke.run import SmokeOptions, smoke

    options = SmokeOptions(
        inputs=parse_object("--input", input_json),
        answers=_pairs("--answer", answers, as_json=True),
        secrets={k: str(v) for k, v in _pairs("--secret", secrets, as_json=False).items()},
        llm_key=llm_key, registry=registry, timeout=timeout,
        say=(lambda line: click.secho(f"  {line}", err=True, dim=True)) if verbose else
        (lambda line: None),
    )  # fmt: skip
    import signal

    # a cancelled CI job sends SIGTERM: unwind as on Ctrl-C, so the run's server, stand-ins
    # and containers are stopped rather than left running on the runner
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = smoke(target, stack, options)
    if output == "json":
        out.print_json("smoke", [report.to_dict()])
    else:
        click.echo(report.render())
    raise SystemExit(0 if report.passed else 1)
