"""The stack registry of the PostgreSQL store (mixed into :class:`PostgresStore`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict, NotFound
from kitaru.store.base import ComponentRecord, StackRecord
from kitaru.validation import check_names

if TYPE_CHECKING:
    from kitaru.store.pg_pool import Pool

_COMPONENT_COLUMNS = "type, name, flavor, config, owner, created_at, updated_at"
# Registry writes (components, stacks) are rare; one advisory lock serializes them so "is this
# component still used?" cannot race a stack that starts using it (SQLite: BEGIN IMMEDIATE).
_REGISTRY_LOCK = 0x4B49544152550002


def _component(row: tuple[Any, ...]) -> ComponentRecord:
    return ComponentRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])


class PgRegistry:
    """Registered components and stacks."""

    if TYPE_CHECKING:  # provided by PostgresStore
        _pool: Pool

        def _one(self, sql: str, args: Any = ()) -> Any: ...
        def _all(self, sql: str, args: Any = ()) -> list[Any]: ...

    @staticmethod
    def _upsert_components(cur: Any, components: Iterable[ComponentRecord], now: float) -> None:
        rows = [(c.type, c.name, c.flavor, json.dumps(c.config, sort_keys=True), c.owner, now, now)
                for c in components]  # fmt: skip
        if rows:
            cur.executemany(
                f"INSERT INTO components ({_COMPONENT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (type, name) DO UPDATE SET flavor = excluded.flavor, "
                "config = excluded.config, owner = COALESCE(components.owner, excluded.owner), "
                "updated_at = excluded.updated_at",
                rows,
            )

    def put_component(self, component: ComponentRecord) -> None:
        check_names(component_type=component.type, component_name=component.name,
                    flavor=component.flavor, owner=component.owner)  # fmt: skip
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_REGISTRY_LOCK,))
            self._upsert_components(cur, [component], time.time())

    def get_component(self, component_type: str, name: str) -> ComponentRecord | None:
        check_names(component_type=component_type, component_name=name)
        row = self._one(
            f"SELECT {_COMPONENT_COLUMNS} FROM components WHERE type = %s AND name = %s",
            (component_type, name),
        )
        return None if row is None else _component(row)

    def list_components(self, component_type: str | None = None) -> list[ComponentRecord]:
        check_names(component_type=component_type)
        sql = f"SELECT {_COMPONENT_COLUMNS} FROM components"
        args: tuple[Any, ...] = ()
        if component_type is not None:
            sql, args = sql + " WHERE type = %s", (component_type,)
        return [_component(r) for r in self._all(sql + " ORDER BY type, name", args)]

    def stacks_using_component(self, component_type: str, name: str) -> list[str]:
        check_names(component_type=component_type, component_name=name)
        rows = self._all(
            "SELECT stack FROM stack_components WHERE type = %s AND component = %s ORDER BY stack",
            (component_type, name),
        )
        return [r[0] for r in rows]

    def delete_component(self, component_type: str, name: str) -> None:
        check_names(component_type=component_type, component_name=name)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REGISTRY_LOCK,))
            users = [r[0] for r in conn.execute(
                "SELECT stack FROM stack_components WHERE type = %s AND component = %s "
                "ORDER BY stack", (component_type, name)).fetchall()]  # fmt: skip
            if users:
                raise Conflict(
                    f"{component_type} {name!r} is used by stack(s) {', '.join(users)}",
                    hint="update or delete those stacks first (`kitaru stack update NAME ...`)",
                )
            cur = conn.execute(
                "DELETE FROM components WHERE type = %s AND name = %s", (component_type, name)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no {component_type} named {name!r}",
                               hint="list components with `kitaru component list`")  # fmt: skip

    def put_stack(
        self,
        name: str,
        components: Mapping[str, str],
        new_components: Iterable[ComponentRecord] = (),
    ) -> None:
        check_names(stack_name=name, **{f"{t} component": c for t, c in components.items()})
        now = time.time()
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_REGISTRY_LOCK,))
            self._upsert_components(cur, new_components, now)
            cur.execute(
                "INSERT INTO stacks (name, created_at, updated_at) VALUES (%s,%s,%s) "
                "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
                (name, now, now),
            )
            cur.execute("DELETE FROM stack_components WHERE stack = %s", (name,))
            links = [(name, kind, component) for kind, component in components.items()]
            if links:
                cur.executemany(
                    "INSERT INTO stack_components (stack, type, component) VALUES (%s,%s,%s)",
                    links,
                )

    def get_stack(self, name: str) -> StackRecord | None:
        check_names(stack_name=name)
        stacks = self._stacks("WHERE s.name = %s", (name,))
        return stacks[0] if stacks else None

    def list_stacks(self) -> list[StackRecord]:
        return self._stacks("", ())

    def _stacks(self, where: str, args: tuple[Any, ...]) -> list[StackRecord]:
        """Stacks with their components in one query (a LEFT JOIN keeps empty stacks)."""
        rows = self._all(
            "SELECT s.name, s.created_at, s.updated_at, l.type, l.component FROM stacks s "
            f"LEFT JOIN stack_components l ON l.stack = s.name {where} ORDER BY s.name, l.type",
            args,
        )
        stacks: dict[str, StackRecord] = {}
        for name, created, updated, kind, component in rows:
            stack = stacks.setdefault(name, StackRecord(name, {}, created, updated))
            if kind is not None:
                stack.components[kind] = component
        return list(stacks.values())

    def delete_stack(self, name: str) -> list[tuple[str, str]]:
        check_names(stack_name=name)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REGISTRY_LOCK,))
            if conn.execute("DELETE FROM stacks WHERE name = %s", (name,)).rowcount == 0:
                raise NotFound(f"stack {name!r} is not registered",
                               hint="list stacks with `kitaru stack list`")  # fmt: skip
            conn.execute("DELETE FROM stack_components WHERE stack = %s", (name,))
            orphans = conn.execute(
                "DELETE FROM components c WHERE owner = %s AND NOT EXISTS ("
                "SELECT 1 FROM stack_components s WHERE s.type = c.type "
                "AND s.component = c.name) RETURNING type, name",
                (name,),
            ).fetchall()
        return sorted((t, n) for t, n in orphans)
