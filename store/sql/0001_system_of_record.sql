-- riskwire's system of record in PostgreSQL (issue 18): decision records, reviews, label
-- history, rules and their history, API keys and the audit log. Applied once, in one
-- transaction, by `riskwire db upgrade` (store/database.py); never edited once released:
-- a change is a new numbered file.
--
-- Identity is (account, event_id); '' stands for "no account". Card, customer and merchant
-- columns hold pseudonyms (contracts.identity.EntityNames.index), never raw values.

-- First write wins across day partitions: a partitioned table's primary key must hold
-- the partition key (scored_at), and a redelivered event may be scored on another day, so
-- the claim on an identity is this small unpartitioned table. A record is inserted only
-- where its claim was; the claim keeps scored_at, which finds the record's partition.
CREATE TABLE decision_ids (
    account   text        NOT NULL,
    event_id  text        NOT NULL,
    scored_at timestamptz NOT NULL,
    PRIMARY KEY (account, event_id)
);
CREATE INDEX decision_ids_scored_at ON decision_ids (scored_at);  -- retention deletes

-- Every account with a stored decision ('' included): a lookup by event id alone (admin
-- keys) probes (account, event_id) once per account instead of scanning the claims.
CREATE TABLE accounts (
    account text PRIMARY KEY
);

-- The full record, as the worker stored and published it (``body``: JSON, sealed with
-- AES-256-GCM when RISKWIRE_AT_REST_KEYS is set), plus the columns searches filter on.
-- One partition a day (UTC); retention drops whole partitions.
CREATE TABLE decisions (
    account    text        NOT NULL,
    event_id   text        NOT NULL,
    scored_at  timestamptz NOT NULL,
    scored_us  bigint      NOT NULL,  -- scored_at in epoch µs: the searches' order and cursor
    card       text        NOT NULL,
    customer   text        NOT NULL DEFAULT '',
    merchant   text        NOT NULL,
    risk_level text        NOT NULL,
    decision   text        NOT NULL,
    body       bytea       NOT NULL,
    PRIMARY KEY (account, event_id, scored_at)
) PARTITION BY RANGE (scored_at);
-- The API's searches, each led by account; ties in time broken by event_id (the cursor).
CREATE INDEX decisions_by_time     ON decisions (account, scored_us, event_id);
CREATE INDEX decisions_by_card     ON decisions (account, card, scored_us, event_id);
CREATE INDEX decisions_by_customer ON decisions (account, customer, scored_us, event_id) WHERE customer <> '';
CREATE INDEX decisions_by_merchant ON decisions (account, merchant, scored_us, event_id);
CREATE INDEX decisions_by_level    ON decisions (account, risk_level, scored_us, event_id);
CREATE INDEX decisions_by_decision ON decisions (account, decision, scored_us, event_id);
-- Admin keys see every account: their newest-first view walks time alone.
CREATE INDEX decisions_newest      ON decisions (scored_us, account, event_id);

-- The day partition holding ``day`` (UTC), created unless it exists (also by a racing
-- worker: the loser's error is swallowed).
CREATE FUNCTION riskwire_decision_day(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('decisions_%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF decisions FOR VALUES FROM (%L) TO (%L)',
                part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
        END;
    END IF;
    RETURN part;
END $$;

-- Drop the day partitions wholly before ``cutoff`` (and their identity claims and reviews);
-- returns the partitions dropped.
CREATE FUNCTION riskwire_drop_decisions_before(cutoff date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'decisions'::regclass
          AND c.relname ~ '^decisions_[0-9]{8}$'
          AND to_date(substr(c.relname, 11), 'YYYYMMDD') < cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        RETURN NEXT part.relname;
    END LOOP;
    DELETE FROM decision_ids WHERE scored_at < cutoff::timestamp AT TIME ZONE 'UTC';
    DELETE FROM reviews WHERE scored_at < cutoff::timestamp AT TIME ZONE 'UTC';
END $$;

-- The review queue: one row per ``review`` decision, opened with the record. ``state``
-- holds the review's fields as the API shows them (status, assignee, outcome, note …).
CREATE TABLE reviews (
    account   text        NOT NULL,
    event_id  text        NOT NULL,
    status    text        NOT NULL CHECK (status IN ('open', 'assigned', 'closed')),
    scored_at timestamptz NOT NULL,  -- the record's: finds its partition
    scored_us bigint      NOT NULL,
    state     jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (account, event_id)
);
CREATE INDEX reviews_queue     ON reviews (account, status, scored_us, event_id);
CREATE INDEX reviews_queue_all ON reviews (status, scored_us, account, event_id);

-- Every label ever given to an event (feed, analyst or import), oldest first.
CREATE TABLE labels (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account    text        NOT NULL,
    event_id   text        NOT NULL,
    is_fraud   boolean     NOT NULL,
    source     text        NOT NULL DEFAULT '',
    labeled_at timestamptz NOT NULL,
    body       bytea       NOT NULL
);
CREATE INDEX labels_by_event ON labels (account, event_id, id);

-- Rules and lists as stored now, and every change to them (the version is global, as in
-- the Redis store: one counter bumped by every change).
CREATE TABLE rules (
    name    text    PRIMARY KEY,
    kind    text    NOT NULL CHECK (kind IN ('rule', 'list')),
    body    jsonb   NOT NULL,
    version bigint  NOT NULL
);
CREATE TABLE rule_history (
    version    bigint      PRIMARY KEY,
    op         text        NOT NULL,
    target     text        NOT NULL,
    detail     text        NOT NULL DEFAULT '',
    who        text        NOT NULL DEFAULT '',
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- API keys: the secret only as its peppered hash (store/key_hash.py).
CREATE TABLE api_keys (
    key_id     text        PRIMARY KEY,
    account    text        NOT NULL DEFAULT '',
    role       text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    hash       bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL DEFAULT '',
    revoked_at timestamptz
);
CREATE INDEX api_keys_by_account ON api_keys (account, key_id);

-- The audit log, append-only; ``id`` is its order and page cursor.
CREATE TABLE audit (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account  text        NOT NULL DEFAULT '',
    at       timestamptz NOT NULL,
    actor    text        NOT NULL,
    action   text        NOT NULL,
    event_id text        NOT NULL DEFAULT '',
    entry    jsonb       NOT NULL
);
CREATE INDEX audit_by_account ON audit (account, id);
