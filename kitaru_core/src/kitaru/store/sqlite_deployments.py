"""The SQL side of :class:`~kitaru.store.deployments.DeploymentStore`: reads shared by SQLite
and PostgreSQL, and SQLite's writes."""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from kitaru.errors import NotFound
from kitaru.store.deployments import Deployment, DeploymentStore
from kitaru.validation import check_names

_D = ("flow, version, module, qualname, source_file, root, stack, image, parameters, options, "
      "code_hash, created_at")  # fmt: skip


def deployment_row(d: Deployment, version: int) -> tuple[Any, ...]:
    return (d.flow, version, d.module, d.qualname, d.source_file, d.root, d.stack, d.image,
            json.dumps(d.parameters), json.dumps(d.options), d.code_hash, d.created_at)  # fmt: skip


def deployment_from(row: Any, tags: list[str]) -> Deployment:
    r = list(row)
    return Deployment(
        flow=r[0], version=int(r[1]), module=r[2], qualname=r[3], source_file=r[4], root=r[5],
        stack=r[6], image=r[7], parameters=json.loads(r[8]), options=json.loads(r[9]),
        code_hash=r[10], created_at=r[11], tags=tags,
    )  # fmt: skip


class SqlDeployments(DeploymentStore):
    """The reads, shared by both SQL stores (they differ in the parameter placeholder)."""

    _ph = "?"
    if TYPE_CHECKING:  # provided by the store

        def _all(self, sql: str, args: Any = ()) -> list[Any]: ...

    def _tags(self, flow: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for tag, version in self._all(f"SELECT tag, version FROM deployment_tags WHERE flow = "
                                      f"{self._ph} ORDER BY tag", (flow,)):  # fmt: skip
            out.setdefault(int(version), []).append(tag)
        return out

    def get_deployment(self, flow: str, version: int) -> Deployment | None:
        check_names(flow=flow)
        p = self._ph
        rows = self._all(f"SELECT {_D} FROM deployments WHERE flow = {p} AND version = {p}",
                         (flow, version))  # fmt: skip
        return deployment_from(rows[0], self._tags(flow).get(version, [])) if rows else None

    def list_deployments(self, flow: str | None = None) -> list[Deployment]:
        check_names(flow=flow)
        if flow is None:
            rows = self._all(f"SELECT {_D} FROM deployments ORDER BY flow, version")
        else:
            rows = self._all(f"SELECT {_D} FROM deployments WHERE flow = {self._ph} "
                             "ORDER BY version", (flow,))  # fmt: skip
        tags: dict[str, dict[int, list[str]]] = {}
        return [deployment_from(r, tags.setdefault(r[0], self._tags(r[0])).get(int(r[1]), []))
                for r in rows]  # fmt: skip

    def tag_version(self, flow: str, tag: str) -> int | None:
        check_names(flow=flow, tag=tag)
        p = self._ph
        rows = self._all(f"SELECT version FROM deployment_tags WHERE flow = {p} AND tag = {p}",
                         (flow, tag))  # fmt: skip
        return int(rows[0][0]) if rows else None


def missing_version(flow: str, version: int) -> NotFound:
    return NotFound(f"flow {flow!r} has no deployment version {version}",
                    hint=f"see `kitaru deployments list {flow}`")  # fmt: skip


class SQLiteDeployments(SqlDeployments):
    if TYPE_CHECKING:  # provided by SQLiteStore

        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def add_deployment(self, deployment: Deployment, *, tag: str | None) -> Deployment:
        check_names(flow=deployment.flow, tag=tag)
        with self._tx() as conn:
            row = conn.execute("SELECT MAX(version) FROM deployments WHERE flow = ?",
                               (deployment.flow,)).fetchone()  # fmt: skip
            version = int(row[0] or 0) + 1
            conn.execute(f"INSERT INTO deployments ({_D}) VALUES ({', '.join('?' * 12)})",
                         deployment_row(deployment, version))  # fmt: skip
            if tag is not None:
                conn.execute("INSERT OR REPLACE INTO deployment_tags (flow, tag, version) "
                             "VALUES (?, ?, ?)", (deployment.flow, tag, version))  # fmt: skip
        found = self.get_deployment(deployment.flow, version)
        assert found is not None
        return found

    def set_tag(self, flow: str, tag: str, version: int) -> None:
        check_names(flow=flow, tag=tag)
        with self._tx() as conn:
            exists = conn.execute("SELECT 1 FROM deployments WHERE flow = ? AND version = ?",
                                  (flow, version)).fetchone()  # fmt: skip
            if exists is None:
                raise missing_version(flow, version)
            conn.execute("INSERT OR REPLACE INTO deployment_tags (flow, tag, version) "
                         "VALUES (?, ?, ?)", (flow, tag, version))  # fmt: skip
