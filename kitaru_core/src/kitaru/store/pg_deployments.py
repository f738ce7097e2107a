"""The PostgreSQL side of :class:`~kitaru.store.deployments.DeploymentStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitaru.errors import NotFound
from kitaru.store.deployments import Deployment, DeploymentStore
from kitaru.store.sqlite_deployments import _D, deployment_from, deployment_row

if TYPE_CHECKING:
    from kitaru.store.pg_pool import Pool

_UPSERT_TAG = ("INSERT INTO deployment_tags (flow, tag, version) VALUES (%s, %s, %s) "
               "ON CONFLICT (flow, tag) DO UPDATE SET version = EXCLUDED.version")  # fmt: skip


class PgDeployments(DeploymentStore):
    if TYPE_CHECKING:  # provided by PostgresStore
        _pool: Pool

        def _all(self, sql: str, args: Any = ()) -> list[Any]: ...

    def add_deployment(self, deployment: Deployment, *, tag: str | None) -> Deployment:
        with self._pool.connection() as conn, conn.transaction():
            # versions are numbered per flow: concurrent deploys of one flow take turns
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (deployment.flow,))
            row = conn.execute("SELECT MAX(version) FROM deployments WHERE flow = %s",
                               (deployment.flow,)).fetchone()  # fmt: skip
            version = int((row[0] if row else None) or 0) + 1
            conn.execute(f"INSERT INTO deployments ({_D}) VALUES ({', '.join(['%s'] * 12)})",
                         deployment_row(deployment, version))  # fmt: skip
            if tag is not None:
                conn.execute(_UPSERT_TAG, (deployment.flow, tag, version))
        found = self.get_deployment(deployment.flow, version)
        assert found is not None
        return found

    def _tags(self, flow: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for tag, version in self._all("SELECT tag, version FROM deployment_tags WHERE flow = %s "
                                      "ORDER BY tag", (flow,)):  # fmt: skip
            out.setdefault(int(version), []).append(tag)
        return out

    def get_deployment(self, flow: str, version: int) -> Deployment | None:
        rows = self._all(f"SELECT {_D} FROM deployments WHERE flow = %s AND version = %s",
                         (flow, version))  # fmt: skip
        return deployment_from(rows[0], self._tags(flow).get(version, [])) if rows else None

    def list_deployments(self, flow: str | None = None) -> list[Deployment]:
        if flow is None:
            rows = self._all(f"SELECT {_D} FROM deployments ORDER BY flow, version")
        else:
            rows = self._all(f"SELECT {_D} FROM deployments WHERE flow = %s ORDER BY version",
                             (flow,))  # fmt: skip
        tags: dict[str, dict[int, list[str]]] = {}
        return [deployment_from(r, tags.setdefault(r[0], self._tags(r[0])).get(int(r[1]), []))
                for r in rows]  # fmt: skip

    def set_tag(self, flow: str, tag: str, version: int) -> None:
        with self._pool.connection() as conn, conn.transaction():
            found = conn.execute("SELECT 1 FROM deployments WHERE flow = %s AND version = %s",
                                 (flow, version)).fetchone()  # fmt: skip
            if found is None:
                raise NotFound(f"flow {flow!r} has no deployment version {version}",
                               hint=f"see `kitaru deployments list {flow}`")  # fmt: skip
            conn.execute(_UPSERT_TAG, (flow, tag, version))

    def tag_version(self, flow: str, tag: str) -> int | None:
        rows = self._all("SELECT version FROM deployment_tags WHERE flow = %s AND tag = %s",
                         (flow, tag))  # fmt: skip
        return int(rows[0][0]) if rows else None
