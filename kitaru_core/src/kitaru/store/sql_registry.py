"""Registered stack components and stacks, for both SQL stores (mixed into SqlStore).

Registry writes are rare; they take one named lock (PostgreSQL: an advisory transaction lock;
SQLite: ``BEGIN IMMEDIATE`` already holds the database) so "is this component still used?" cannot
race a stack that starts using it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kitaru.errors import Conflict, NotFound
from kitaru.store import rows
from kitaru.store.base import ComponentRecord, StackRecord
from kitaru.store.sql_session import SqlSession, Tx
from kitaru.validation import check_names

_REGISTRY_LOCK = "kitaru:registry"
_UPSERT_COMPONENT = (
    f"INSERT INTO components ({rows.COMPONENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (type, name) DO UPDATE SET flavor = excluded.flavor, "
    "config = excluded.config, owner = COALESCE(components.owner, excluded.owner), "
    "updated_at = excluded.updated_at"
)


class SqlRegistry(SqlSession):
    """Components and stacks."""

    @staticmethod
    def _upsert_components(tx: Tx, components: Iterable[ComponentRecord], now: float) -> None:
        tx.many(_UPSERT_COMPONENT,
                [(c.type, c.name, c.flavor, json.dumps(c.config, sort_keys=True), c.owner, now,
                  now) for c in components])  # fmt: skip

    def put_component(self, component: ComponentRecord) -> None:
        check_names(component_type=component.type, component_name=component.name,
                    flavor=component.flavor, owner=component.owner)  # fmt: skip
        with self._session() as tx:
            self._lock_key(tx, _REGISTRY_LOCK)
            self._upsert_components(tx, [component], time.time())

    def get_component(self, component_type: str, name: str) -> ComponentRecord | None:
        check_names(component_type=component_type, component_name=name)
        row = self._one(
            f"SELECT {rows.COMPONENT_COLUMNS} FROM components WHERE type = ? AND name = ?",
            (component_type, name),
        )
        return None if row is None else rows.component(row)

    def list_components(self, component_type: str | None = None) -> list[ComponentRecord]:
        check_names(component_type=component_type)
        sql = f"SELECT {rows.COMPONENT_COLUMNS} FROM components"
        args: tuple[Any, ...] = ()
        if component_type is not None:
            sql, args = sql + " WHERE type = ?", (component_type,)
        return [rows.component(r) for r in self._all(sql + " ORDER BY type, name", args)]

    def stacks_using_component(self, component_type: str, name: str) -> list[str]:
        check_names(component_type=component_type, component_name=name)
        found = self._all(
            "SELECT stack FROM stack_components WHERE type = ? AND component = ? ORDER BY stack",
            (component_type, name),
        )
        return [r["stack"] for r in found]

    def delete_component(self, component_type: str, name: str) -> None:
        check_names(component_type=component_type, component_name=name)
        with self._session() as tx:
            self._lock_key(tx, _REGISTRY_LOCK)
            users = [r["stack"] for r in tx.all(
                "SELECT stack FROM stack_components WHERE type = ? AND component = ? "
                "ORDER BY stack", (component_type, name))]  # fmt: skip
            if users:
                raise Conflict(
                    f"{component_type} {name!r} is used by stack(s) {', '.join(users)}",
                    hint="update or delete those stacks first (`kitaru stack update NAME ...`)",
                )
            if not tx.run("DELETE FROM components WHERE type = ? AND name = ?",
                          (component_type, name)):  # fmt: skip
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
        with self._session() as tx:
            self._lock_key(tx, _REGISTRY_LOCK)
            self._upsert_components(tx, new_components, now)
            tx.run(
                "INSERT INTO stacks (name, created_at, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
                (name, now, now),
            )
            tx.run("DELETE FROM stack_components WHERE stack = ?", (name,))
            tx.many("INSERT INTO stack_components (stack, type, component) VALUES (?, ?, ?)",
                    [(name, kind, component) for kind, component in components.items()])  # fmt: skip

    def get_stack(self, name: str) -> StackRecord | None:
        check_names(stack_name=name)
        stacks = self._stacks("WHERE s.name = ?", (name,))
        return stacks[0] if stacks else None

    def list_stacks(self) -> list[StackRecord]:
        return self._stacks("", ())

    def _stacks(self, where: str, args: tuple[Any, ...]) -> list[StackRecord]:
        """Stacks with their components in one query (a LEFT JOIN keeps empty stacks)."""
        found = self._all(
            "SELECT s.name, s.created_at, s.updated_at, l.type, l.component FROM stacks s "
            f"LEFT JOIN stack_components l ON l.stack = s.name {where} ORDER BY s.name, l.type",
            args,
        )
        stacks: dict[str, StackRecord] = {}
        for r in found:
            stack = stacks.setdefault(
                r["name"], StackRecord(r["name"], {}, r["created_at"], r["updated_at"])
            )
            if r["type"] is not None:
                stack.components[r["type"]] = r["component"]
        return list(stacks.values())

    def delete_stack(self, name: str) -> list[tuple[str, str]]:
        check_names(stack_name=name)
        with self._session() as tx:
            self._lock_key(tx, _REGISTRY_LOCK)
            if not tx.run("DELETE FROM stacks WHERE name = ?", (name,)):
                raise NotFound(f"stack {name!r} is not registered",
                               hint="list stacks with `kitaru stack list`")  # fmt: skip
            tx.run("DELETE FROM stack_components WHERE stack = ?", (name,))
            orphans = tx.all(
                "DELETE FROM components WHERE owner = ? AND NOT EXISTS ("
                "SELECT 1 FROM stack_components s WHERE s.type = components.type "
                "AND s.component = components.name) RETURNING type, name",
                (name,),
            )
        return sorted((r["type"], r["name"]) for r in orphans)
