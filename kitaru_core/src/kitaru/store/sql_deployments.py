"""Deployments (:class:`~kitaru.store.deployments.DeploymentStore`) for both SQL stores."""

from __future__ import annotations

from kitaru.errors import NotFound
from kitaru.store import rows
from kitaru.store.deployments import Deployment, DeploymentStore
from kitaru.store.dialect import placeholders
from kitaru.store.sql_session import SqlSession
from kitaru.validation import check_names

_UPSERT_TAG = ("INSERT INTO deployment_tags (flow, tag, version) VALUES (?, ?, ?) "
               "ON CONFLICT (flow, tag) DO UPDATE SET version = excluded.version")  # fmt: skip


def missing_version(flow: str, version: int) -> NotFound:
    return NotFound(f"flow {flow!r} has no deployment version {version}",
                    hint=f"see `kitaru deployments list {flow}`")  # fmt: skip


class SqlDeployments(SqlSession, DeploymentStore):
    def _tags(self, flow: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for r in self._all("SELECT tag, version FROM deployment_tags WHERE flow = ? ORDER BY tag",
                           (flow,)):  # fmt: skip
            out.setdefault(int(r["version"]), []).append(r["tag"])
        return out

    def get_deployment(self, flow: str, version: int) -> Deployment | None:
        check_names(flow=flow)
        row = self._one(f"SELECT {rows.DEPLOYMENT_COLUMNS} FROM deployments WHERE flow = ? "
                        "AND version = ?", (flow, version))  # fmt: skip
        return None if row is None else rows.deployment(row, self._tags(flow).get(version, []))

    def list_deployments(self, flow: str | None = None) -> list[Deployment]:
        check_names(flow=flow)
        sql = f"SELECT {rows.DEPLOYMENT_COLUMNS} FROM deployments"
        if flow is None:
            found = self._all(sql + " ORDER BY flow, version")
        else:
            found = self._all(sql + " WHERE flow = ? ORDER BY version", (flow,))
        tags: dict[str, dict[int, list[str]]] = {}
        return [rows.deployment(r, tags.setdefault(r["flow"], self._tags(r["flow"]))
                                .get(int(r["version"]), [])) for r in found]  # fmt: skip

    def tag_version(self, flow: str, tag: str) -> int | None:
        check_names(flow=flow, tag=tag)
        row = self._one("SELECT version FROM deployment_tags WHERE flow = ? AND tag = ?",
                        (flow, tag))  # fmt: skip
        return None if row is None else int(row["version"])

    def add_deployment(self, deployment: Deployment, *, tag: str | None) -> Deployment:
        check_names(flow=deployment.flow, tag=tag)
        with self._session() as tx:
            # versions are numbered per flow: concurrent deploys of one flow take turns
            self._lock_key(tx, deployment.flow)
            row = tx.one("SELECT MAX(version) AS v FROM deployments WHERE flow = ?",
                         (deployment.flow,))  # fmt: skip
            version = int((row["v"] if row else None) or 0) + 1
            tx.run(f"INSERT INTO deployments ({rows.DEPLOYMENT_COLUMNS}) "
                   f"VALUES ({placeholders(12)})", rows.deployment_row(deployment, version))  # fmt: skip
            if tag is not None:
                tx.run(_UPSERT_TAG, (deployment.flow, tag, version))
        found = self.get_deployment(deployment.flow, version)
        assert found is not None
        return found

    def set_tag(self, flow: str, tag: str, version: int) -> None:
        check_names(flow=flow, tag=tag)
        with self._session() as tx:
            if tx.one("SELECT 1 AS found FROM deployments WHERE flow = ? AND version = ?",
                      (flow, version)) is None:  # fmt: skip
                raise missing_version(flow, version)
            tx.run(_UPSERT_TAG, (flow, tag, version))
