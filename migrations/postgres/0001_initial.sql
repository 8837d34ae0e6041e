-- Initial schema of the emulator's state store, PostgreSQL dialect (see ../README.md).
--
-- Same tables and columns as the SQLite folder, with native types:
--   * timestamps are TIMESTAMPTZ (microsecond precision, as the callers pass them);
--   * ids are UUID;
--   * enums are TEXT in their Rust spelling (`Restoring`, `InProgress`, ...);
--   * `*_key` columns hold the lower-cased names that ARM compares case-insensitively; the
--     columns beside them keep the caller's spelling for display.
-- Columns that lists are ordered by use COLLATE "C" so that the order is the byte order of the
-- UTF-8 text whatever the cluster's locale, as in SQLite.

CREATE TABLE instances (
    subscription_key   TEXT NOT NULL,
    resource_group_key TEXT NOT NULL,
    name_key           TEXT COLLATE "C" NOT NULL,
    subscription       TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    location           TEXT NOT NULL,
    resource_json      TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subscription_key, resource_group_key, name_key)
);

-- No foreign key to `instances`: the API layer decides whether an instance must exist first.
CREATE TABLE databases (
    id                 UUID PRIMARY KEY,
    subscription_key   TEXT NOT NULL,
    resource_group_key TEXT NOT NULL,
    instance_key       TEXT NOT NULL,
    name_key           TEXT COLLATE "C" NOT NULL,
    subscription       TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    instance_name      TEXT NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    location           TEXT NOT NULL,
    collation_name     TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_by_lrs     BOOLEAN NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (subscription_key, resource_group_key, instance_key, name_key)
);

-- `database_id` is a plain column, not a foreign key: dropping a database keeps its job (and
-- through it the files and the restore history) for the record. The instance keys are copied
-- from the database when the job is created so that the per-instance and per-subscription
-- limits can be counted without the database row.
CREATE TABLE jobs (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 UUID NOT NULL UNIQUE,
    database_id        UUID NOT NULL UNIQUE,
    subscription_key   TEXT NOT NULL,
    resource_group_key TEXT NOT NULL,
    instance_key       TEXT NOT NULL,
    state              TEXT NOT NULL,
    mode               TEXT NOT NULL,
    last_backup_name   TEXT,
    storage_uri        TEXT NOT NULL,
    auth               TEXT NOT NULL,
    sas_token          TEXT,
    profile            TEXT NOT NULL,
    started_at         TIMESTAMPTZ NOT NULL,
    deadline_at        TIMESTAMPTZ NOT NULL,
    complete_requested TEXT,
    error_code         TEXT,
    error_message      TEXT,
    finished_at        TIMESTAMPTZ,
    version            BIGINT NOT NULL,
    owner              TEXT,
    lease_until        TIMESTAMPTZ
);

CREATE INDEX jobs_active_by_instance
    ON jobs (subscription_key, resource_group_key, instance_key, state);
CREATE INDEX jobs_by_state ON jobs (state, started_at, seq);

CREATE TABLE files (
    job_id        UUID NOT NULL REFERENCES jobs (id),
    name          TEXT COLLATE "C" NOT NULL,
    size          BIGINT NOT NULL,
    etag          TEXT,
    last_modified TIMESTAMPTZ NOT NULL,
    discovered_at TIMESTAMPTZ NOT NULL,
    header_json   TEXT,
    error         TEXT,
    PRIMARY KEY (job_id, name)
);

-- `seq` keeps the order in which restores started when two share a timestamp.
CREATE TABLE restores (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id            UUID NOT NULL REFERENCES jobs (id),
    backup_set_guid   TEXT NOT NULL,
    kind              TEXT NOT NULL,
    first_stripe_name TEXT NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ
);

CREATE INDEX restores_by_set ON restores (job_id, backup_set_guid);

-- Operations outlive their database (results are served after a drop): no foreign keys.
CREATE TABLE operations (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 UUID NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    database_id        UUID NOT NULL,
    subscription       TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    instance_name      TEXT NOT NULL,
    database_name      TEXT NOT NULL,
    status             TEXT NOT NULL,
    error_code         TEXT,
    error_message      TEXT,
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ
);

CREATE INDEX operations_open ON operations (database_id, status, started_at, seq);
