"""The workspace tools: deployments, artifacts, memory, stacks, flavors and plugins.

As in :mod:`kitaru.mcp.tools`, each is its CLI command's library calls; artifacts are read as
data only (nothing is unpickled or imported to load one, as REST never does).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from kitaru.mcp import schemas
from kitaru.mcp.tools import ExecutionId, tool

if TYPE_CHECKING:
    from kitaru.client import KitaruClient

Scope = Annotated[Literal["namespace", "flow", "execution"] | None, Field(
    description="namespace, flow or execution (inferred from the name given; default: the "
    "`default` namespace)")]  # fmt: skip
Namespace = Annotated[str | None, Field(description="a namespace name (scope namespace)")]
FlowName = Annotated[str | None, Field(description="a flow name (scope flow)")]
InExecution = Annotated[str | None, Field(description="an execution id (scope execution)")]
IfVersion = Annotated[int | None, Field(ge=0, description="only if the latest version is N "
                                        "(0: the key was never written)")]  # fmt: skip
#: artifacts larger than this are not sent inline as base64 (the CLI writes them to a file)
MAX_BYTES = 1_000_000


def _where(scope: str | None, namespace: str | None, flow: str | None,
           execution: str | None) -> dict[str, Any]:  # fmt: skip
    return {"scope": scope, "namespace": namespace, "flow": flow, "execution": execution}


class WorkspaceTools:
    """Deployments, artifacts, memory, stacks, flavors, plugins."""

    client: KitaruClient

    # -- deployments ------------------------------------------------------------------------------
    @tool(writes=False)
    def deployments_list(
        self, flow: Annotated[str | None, Field(description="only this flow's")] = None
    ) -> schemas.Deployments:
        """Deployed flows: every version with its tags, stack, image and parameters
        (`kitaru deployments list`)."""
        import dataclasses

        found = self.client.deployments.list(flow)
        return schemas.Deployments(
            deployments=[schemas.Deployment.of(dataclasses.asdict(d)) for d in found]
        )

    # -- artifacts --------------------------------------------------------------------------------
    @tool(writes=False)
    def artifacts_list(self, execution_id: ExecutionId) -> schemas.Artifacts:
        """An execution's artifacts: saved values, checkpoint outputs and LLM calls
        (`kitaru artifacts list`)."""
        full = self.client.executions.handle(execution_id).id
        found = self.client.artifacts.list(full)
        return schemas.Artifacts(execution_id=full,
                                 artifacts=[schemas.Artifact.of(a.to_dict()) for a in found])  # fmt: skip

    @tool(writes=False)
    def artifacts_load(
        self,
        execution_id: ExecutionId,
        name: Annotated[
            str,
            Field(description="an artifact's name (name#N for a version) or a checkpoint call id"),
        ],
    ) -> schemas.ArtifactValue:
        """An artifact's value: JSON data as JSON, text as text, bytes as base64 (up to 1 MB).
        Pickles are not loaded (loading one runs its code; use the CLI if you trust it)
        (`kitaru artifacts load`)."""
        from kitaru.errors import UsageError
        from kitaru.runtime.runner import value_io

        arts = self.client.artifacts
        a = arts.show(execution_id, name).artifact
        ref = f"{a.execution_id} {a.call_id}"
        out: dict[str, Any] = {"execution_id": a.execution_id, "call_id": a.call_id,
                               "serializer": a.serializer, "type_name": a.type_name}  # fmt: skip
        if a.serializer == "pickle":  # the CLI's refusal, word for word
            raise UsageError(
                f"artifact {a.call_id!r} of execution {a.execution_id} is a pickle ({a.type_name})",
                hint=f"loading it runs code from the pickle; if you trust it: "
                f"kitaru artifacts load {ref} --allow-pickle",
            )
        if a.serializer not in ("str", "bytes"):  # JSON-like: its stored JSON, no type imported
            return schemas.ArtifactValue(**out, encoding="json", value=arts.data(a.execution_id,
                                                                                 a.call_id))  # fmt: skip
        if a.serializer == "bytes" and a.size > MAX_BYTES:
            raise UsageError(f"artifact {a.call_id!r} of execution {a.execution_id} is {a.size} "
                             f"bytes of binary data, more than an MCP answer carries",
                             hint=f"write it to a file: kitaru artifacts load {ref} --out FILE")  # fmt: skip
        from kitaru.artifacts import find_artifact

        c = find_artifact(self.client.store, a.execution_id, a.call_id)
        stack = self.client.store.get_execution(a.execution_id).options.get("stack")
        raw = value_io(self.client.store, stack).raw(c.value, c.ref)
        if a.serializer == "str":
            return schemas.ArtifactValue(**out, encoding="text", value=raw.decode())
        return schemas.ArtifactValue(**out, encoding="base64",
                                     value=base64.b64encode(raw).decode())  # fmt: skip

    # -- memory -----------------------------------------------------------------------------------
    @tool(writes=False)
    def memory_scopes(self) -> schemas.MemoryScopes:
        """The scopes that hold memory and how many live keys each has
        (`kitaru memory scope list`)."""
        from kitaru import memory

        rows = [{"scope": s, "name": n, "keys": c} for s, n, c in memory.scopes()]
        return schemas.MemoryScopes(scopes=[schemas.MemoryScope.of(r) for r in rows])

    @tool(writes=False)
    def memory_list(self, scope: Scope = None, namespace: Namespace = None,
                    flow: FlowName = None, execution: InExecution = None) -> schemas.MemoryEntries:  # fmt: skip
        """The live keys of a memory scope with their latest version (`kitaru memory list`)."""
        from kitaru import memory

        found = memory.entries(**_where(scope, namespace, flow, execution))
        return schemas.MemoryEntries(entries=[schemas.MemoryEntry.of(e.to_dict()) for e in found])

    @tool(writes=False)
    def memory_get(
        self, key: str, scope: Scope = None, namespace: Namespace = None, flow: FlowName = None,
        execution: InExecution = None,
        version: Annotated[int | None, Field(ge=1, description="exactly this version")] = None,
    ) -> schemas.MemoryValue:  # fmt: skip
        """The latest value of a memory key (or exactly `version`); found=false when it has
        none (`kitaru memory get`)."""
        from kitaru import memory
        from kitaru.client import to_jsonable

        missing = object()
        value = memory.get(key, missing, version=version,
                           **_where(scope, namespace, flow, execution))  # fmt: skip
        if value is missing:
            return schemas.MemoryValue(key=key, found=False, value=None)
        return schemas.MemoryValue(key=key, found=True, value=to_jsonable(value))

    @tool(writes=False)
    def memory_history(self, key: str, scope: Scope = None, namespace: Namespace = None,
                       flow: FlowName = None, execution: InExecution = None) -> schemas.MemoryEntries:  # fmt: skip
        """Every version of a memory key, oldest first, deletes included
        (`kitaru memory history`)."""
        from kitaru import memory

        found = memory.history(key, **_where(scope, namespace, flow, execution))
        return schemas.MemoryEntries(entries=[schemas.MemoryEntry.of(v.to_dict()) for v in found])

    @tool(writes=True)
    def memory_set(
        self, key: str, value: Annotated[Any, Field(description="any JSON value")],
        scope: Scope = None, namespace: Namespace = None, flow: FlowName = None,
        execution: InExecution = None, if_version: IfVersion = None,
    ) -> schemas.MemoryWrite:  # fmt: skip
        """Write a new version of a memory key (`kitaru memory set`)."""
        from kitaru import memory
        from kitaru.validation import check_unicode

        check_unicode(value, "value")
        version = memory.set(key, value, if_version=if_version,
                             **_where(scope, namespace, flow, execution))  # fmt: skip
        return schemas.MemoryWrite(key=key, version=version, deleted=False)

    @tool(writes=True)
    def memory_delete(
        self, key: str, scope: Scope = None, namespace: Namespace = None, flow: FlowName = None,
        execution: InExecution = None, if_version: IfVersion = None,
    ) -> schemas.MemoryWrite:  # fmt: skip
        """Delete a memory key: a tombstone version, so it reads as missing but stays in its
        history (`kitaru memory delete`)."""
        from kitaru import memory

        version = memory.delete(key, if_version=if_version,
                                **_where(scope, namespace, flow, execution))  # fmt: skip
        return schemas.MemoryWrite(key=key, version=version, deleted=True)

    # -- stacks, flavors, plugins -----------------------------------------------------------------
    @tool(writes=False)
    def stacks_list(self) -> schemas.Stacks:
        """Stacks with their components; `active` marks the one executions run on by default
        (`kitaru stack list`)."""
        from kitaru.cli.stack import _active_name, _stack_item
        from kitaru.stack import registry

        active = _active_name()
        items = [_stack_item(spec, active) for spec in registry.list_stacks()]
        return schemas.Stacks(stacks=[schemas.Stack.of(i) for i in items])

    @tool(writes=False)
    def stacks_describe(
        self, name: Annotated[str | None, Field(description="default: the active stack")] = None
    ) -> schemas.Stack:
        """A stack's components and their configs; secret references are shown as written,
        never resolved (`kitaru stack describe`)."""
        from kitaru.cli.stack import _stack_item
        from kitaru.stack import registry
        from kitaru.stack.active import resolve_active

        active, _ = resolve_active()
        return schemas.Stack.of(_stack_item(registry.get_stack(name or active), active))

    @tool(writes=False)
    def flavors_list(
        self,
        type: Annotated[
            str | None,
            Field(
                description="only flavors of this component type, e.g. orchestrator, artifact_store"
            ),
        ] = None,
    ) -> schemas.Flavors:
        """Installed flavors of stack components: name, type, the plugin that provides it
        (`kitaru flavor list`)."""
        import dataclasses

        from kitaru.plugins.manager import plugin_manager

        found = [f for f in plugin_manager().flavors() if type in (None, f.type)]
        return schemas.Flavors(flavors=[schemas.Flavor.of(dataclasses.asdict(f)) for f in found])

    @tool(writes=False)
    def plugins_list(self) -> schemas.Plugins:
        """Installed plugins, their versions, and why any failed to load
        (`kitaru plugin list`)."""
        from kitaru.plugins.manager import plugin_manager

        return schemas.Plugins(
            plugins=[schemas.Plugin.of(i.to_dict()) for i in plugin_manager().plugins()]
        )
