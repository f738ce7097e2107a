"""The PostgreSQL side of :class:`~kitaru.store.deployments.DeploymentStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitaru.store.deployments import Deployment
from kitaru.store.sqlite_deployments import _D, SqlDeployments, deployment_row, missing_version
from kitaru.validation import check_names

if TYPE_CHECKING:
    from kitaru.store.pg_pool import Pool

_UPSERT_TAG = ("INSERT INTO deployment_tags (flow, tag, version) VALUES (%s, %s, %s) "
               "ON CONFLICT (flow, tag) DO UPDATE SET version = EXCLUDED.version")  # fmt: skip


class PgDeployments(SqlDeployments):
    _ph = "%s"
    if TYPE_CHECKING:  # provided by PostgresStore
        _pool: Pool

    def add_deployment(self, deployment: Deployment, *, tag: str | None) -> Deployment:
        check_names(flow=deployment.flow, tag=tag)
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

    def set_tag(self, flow: str, tag: str, version: int) -> None:
        check_names(flow=flow, tag=tag)
        with self._pool.connection() as conn, conn.transaction():
            found = conn.execute("SELECT 1 FROM deployments WHERE flow = %s AND version = %s",
                                 (flow, version)).fetchone()  # fmt: skip
            if found is None:
                raise missing_version(flow, version)
            conn.execute(_UPSERT_TAG, (flow, tag, version))
