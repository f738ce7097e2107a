"""Versioned schema of the embedded store. Append new steps; never edit an applied one."""

from __future__ import annotations

SQLITE_MIGRATIONS: list[str] = [
    # 1: executions, journal, attempts, blobs
    """
    CREATE TABLE executions (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        flow TEXT NOT NULL,
        status TEXT NOT NULL,
        module TEXT NOT NULL,
        qualname TEXT NOT NULL,
        source_file TEXT,
        root TEXT,
        inputs TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        result_ser TEXT, result_type TEXT, result_value BLOB, result_ref TEXT,
        error TEXT,
        lease_owner TEXT,
        lease_expires REAL,
        replay_of TEXT,
        replay_from TEXT,
        overrides TEXT,
        metadata TEXT,
        options TEXT
    );
    CREATE INDEX executions_flow ON executions(flow, created_at);
    CREATE INDEX executions_status ON executions(status);
    CREATE INDEX executions_lease_owner ON executions(lease_owner) WHERE lease_owner IS NOT NULL;
    CREATE TABLE journal (
        execution_pk INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        seq INTEGER NOT NULL,
        fingerprint BLOB,
        serializer TEXT,
        type_name TEXT,
        value BLOB,
        ref TEXT,
        started_at REAL,
        ended_at REAL,
        attempts INTEGER NOT NULL DEFAULT 1,
        meta TEXT,
        PRIMARY KEY (execution_pk, call_id)
    ) WITHOUT ROWID;
    CREATE TABLE attempts (
        execution_pk INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        error TEXT NOT NULL,
        PRIMARY KEY (execution_pk, call_id, attempt)
    ) WITHOUT ROWID;
    CREATE TABLE cache_index (
        key BLOB PRIMARY KEY,
        execution_pk INTEGER NOT NULL,
        call_id TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        uri TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: registered stack components and stacks (configs hold secret references, never values)
    """
    CREATE TABLE components (
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        flavor TEXT NOT NULL,
        config TEXT NOT NULL,
        owner TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (type, name)
    ) WITHOUT ROWID;
    CREATE TABLE stacks (
        name TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE stack_components (
        stack TEXT NOT NULL,
        type TEXT NOT NULL,
        component TEXT NOT NULL,
        PRIMARY KEY (stack, type)
    ) WITHOUT ROWID;
    CREATE INDEX stack_components_component ON stack_components(type, component);
    """,
    # 3: versioned memory (namespace / flow / execution scopes); deletes are tombstone versions
    """
    CREATE TABLE memory (
        scope TEXT NOT NULL,
        scope_key TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        serializer TEXT,
        type_name TEXT,
        value BLOB,
        deleted INTEGER NOT NULL DEFAULT 0,
        execution_id TEXT,
        call_id TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (scope, scope_key, key, version)
    ) WITHOUT ROWID;
    """,
    # 4: server access: principals (users, service accounts) and their hashed API keys
    """
    CREATE TABLE principals (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        role TEXT NOT NULL,
        workspace TEXT NOT NULL,
        created_at REAL NOT NULL,
        description TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        principal TEXT NOT NULL REFERENCES principals(name),
        secret_sha256 TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL,
        label TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE INDEX api_keys_principal ON api_keys(principal);
    """,
    # 5: deployments (immutable numbered versions of a flow) and their exclusive tags
    """
    CREATE TABLE deployments (
        flow TEXT NOT NULL,
        version INTEGER NOT NULL,
        module TEXT NOT NULL,
        qualname TEXT NOT NULL,
        source_file TEXT,
        root TEXT,
        stack TEXT NOT NULL,
        image TEXT,
        parameters TEXT NOT NULL,
        options TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (flow, version)
    ) WITHOUT ROWID;
    CREATE TABLE deployment_tags (
        flow TEXT NOT NULL,
        tag TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (flow, tag)
    ) WITHOUT ROWID;
    """,
    # 6: captured logs of executions run by processes connected to a server
    """
    CREATE TABLE logs (
        execution_pk INTEGER NOT NULL,
        n INTEGER NOT NULL,
        t REAL,
        call TEXT,
        stream TEXT,
        line TEXT,
        PRIMARY KEY (execution_pk, n)
    ) WITHOUT ROWID;
    """,
    # 7: fencing: every lease take-over bumps the epoch; a runner's writes name the epoch it holds
    """
    ALTER TABLE executions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: cron schedules, and the fire times they started (one execution per schedule and time)
    """
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        tag TEXT NOT NULL,
        cron TEXT NOT NULL,
        tz TEXT NOT NULL,
        inputs TEXT NOT NULL,
        catchup TEXT NOT NULL,
        max_catchup INTEGER NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        next_fire REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX schedules_due ON schedules(next_fire);
    CREATE TABLE schedule_fires (
        schedule TEXT NOT NULL,
        fire_time REAL NOT NULL,
        execution_id TEXT NOT NULL,
        fired_at REAL NOT NULL,
        PRIMARY KEY (schedule, fire_time)
    ) WITHOUT ROWID;
    """,
    # 9: durable queues: queue fields of executions (status "queued" until a worker takes
    # one), queue definitions (limits); a dedup key is unique among live executions of a queue
    """
    ALTER TABLE executions ADD COLUMN queue TEXT;
    ALTER TABLE executions ADD COLUMN queue_key TEXT;
    ALTER TABLE executions ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE executions ADD COLUMN dedup_key TEXT;
    ALTER TABLE executions ADD COLUMN dequeued_at REAL;
    CREATE INDEX executions_queue ON executions(queue, status, priority DESC, pk)
        WHERE queue IS NOT NULL;
    CREATE INDEX executions_dequeued ON executions(queue, dequeued_at)
        WHERE dequeued_at IS NOT NULL;
    CREATE UNIQUE INDEX executions_dedup ON executions(queue, dedup_key)
        WHERE dedup_key IS NOT NULL AND status IN ('queued', 'pending', 'running', 'waiting');
    CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        concurrency INTEGER,
        per_key_concurrency INTEGER,
        rate_limit INTEGER,
        rate_period REAL,
        priority INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 10: a flow's executions newest first (`executions list --flow`, the dashboard's flow
    # filter) from an index in pk order: with only (flow, created_at), a rare flow scanned the
    # whole table on SQLite (benchmarks/README.md, "listing with N executions")
    """
    CREATE INDEX executions_flow_pk ON executions(flow, pk);
    """,
    # 11: the live executions (running or pending: `executions list --status crashed`) newest
    # first without a scan: SQLite cannot merge two ranges of executions_status in pk order and
    # scanned the table instead (100,000 executions: 12-14 ms)
    """
    CREATE INDEX executions_live ON executions(pk) WHERE status IN ('running', 'pending');
    """,
]

SCHEMA_VERSION = len(SQLITE_MIGRATIONS)
