-- Contract tables (docs/design.md). Created once; later runs add to them.
CREATE SEQUENCE IF NOT EXISTS batch_id_seq START 1;

CREATE TABLE IF NOT EXISTS ingest_batches (
    batch_id          BIGINT PRIMARY KEY,
    source_file       VARCHAR NOT NULL,
    sha256            VARCHAR NOT NULL,   -- of the file's bytes: the same content is not read twice
    settings_sha256   VARCHAR NOT NULL,   -- of the site profile used: a rejected file is retried under another
    kind              VARCHAR,
    site              VARCHAR,
    rows_read         BIGINT NOT NULL,
    rows_loaded       BIGINT NOT NULL,
    rows_quarantined  BIGINT NOT NULL,
    rows_unchanged    BIGINT NOT NULL,
    rows_replaced     BIGINT,             -- of rows_loaded, corrections that replaced a row loaded before
    status            VARCHAR NOT NULL,   -- loaded | rejected (the file could not be used; its rows are in quarantine)
    reason            VARCHAR,            -- why a file was rejected, or what was ignored in it
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP NOT NULL,
    source_size       BIGINT,             -- the file's size and modification time when read: a file that
    source_mtime_ns   BIGINT              -- matches them (and its name) again is not hashed again
);
-- Databases made before source_size and source_mtime_ns: their files are hashed once more, and
-- a batch whose file comes again unchanged gets them (pipelines/ingest.py).
ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS source_size BIGINT;
ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS source_mtime_ns BIGINT;

CREATE TABLE IF NOT EXISTS quarantine (
    batch_id    BIGINT NOT NULL,
    source_row  BIGINT,          -- data row in the file, 1 = first row after the header
    reasons     VARCHAR[] NOT NULL,
    record      JSON             -- the row as read, patient_id replaced by patient_key, date_of_birth withheld
);

-- One row per (site, order_id), and per (site, patient_key, assessment_date, measure) in assessments:
-- the loads keep them unique (a key twice in one file is quarantined, a correction replaces the old
-- row). They are not declared as primary keys: DuckDB holds a key's index in memory for every
-- insert, about 1 GB at 10 million orders (docs/performance.md).
-- patient_seq: the patient's number in patient_keys. The treatment analysis and the usage tables
-- join, group and rebuild by it instead of by the 64-character patient_key (docs/performance.md).
CREATE TABLE IF NOT EXISTS patient_keys (
    patient_seq BIGINT NOT NULL,   -- numbered as first seen in an extract (sql/staging/stg_patients.sql)
    site        VARCHAR NOT NULL,
    patient_key VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    order_id                VARCHAR NOT NULL,
    site                    VARCHAR NOT NULL,
    patient_key             VARCHAR NOT NULL,
    patient_seq             BIGINT,
    age_years               INTEGER NOT NULL,
    sex                     VARCHAR,
    weight_kg               DOUBLE NOT NULL,
    height_cm               DOUBLE,
    order_date              DATE NOT NULL,
    start_date              DATE NOT NULL,
    infusion_days           INTEGER NOT NULL,
    dose_g                  DOUBLE NOT NULL,
    product                 VARCHAR,
    indication              VARCHAR,
    diagnosis_code          VARCHAR,
    severity                VARCHAR,
    refractory              BOOLEAN,
    plasma_exchange         BOOLEAN,
    with_methylprednisolone BOOLEAN,
    specialty               VARCHAR,
    department              VARCHAR,
    prescriber_id           VARCHAR,
    dq_flags                VARCHAR[] NOT NULL DEFAULT [],  -- flag checks the row failed (guideline/checks/orders.yaml)
    batch_id                BIGINT NOT NULL,
    source_row              BIGINT NOT NULL,
    profile_id              BIGINT   -- audit_profiles: set when the order is loaded (sql/core/load_orders.sql)
);

CREATE TABLE IF NOT EXISTS orders_history AS
    SELECT *, NULL::BIGINT AS replaced_by_batch_id FROM orders WITH NO DATA;

CREATE TABLE IF NOT EXISTS assessments (
    site             VARCHAR NOT NULL,
    patient_key      VARCHAR NOT NULL,
    patient_seq      BIGINT,
    assessment_date  DATE NOT NULL,
    measure          VARCHAR NOT NULL,   -- ref_measures.measure
    value            DOUBLE NOT NULL,
    dq_flags         VARCHAR[] NOT NULL, -- flag checks the row failed (guideline/checks/assessments.yaml)
    batch_id         BIGINT NOT NULL,
    source_row       BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS assessments_history AS
    SELECT *, NULL::BIGINT AS replaced_by_batch_id FROM assessments WITH NO DATA;

-- One row per distinct order profile: the columns a verdict depends on (indication, code, age,
-- specialty and the structured population columns), numbered as first loaded. Orders are classified
-- per profile (sql/audit/profile_verdicts.sql) and each order holds its profile's number
-- (orders.profile_id, set by the load), so order_audit is a view joining one integer to the
-- verdicts, not a per-order copy. Like patient_keys, kept across rebuilds: the numbers stay stable.
-- A profile no order has any more (after a correction) stays: no order reads it.
CREATE TABLE IF NOT EXISTS audit_profiles (
    profile_id              BIGINT NOT NULL,
    indication              VARCHAR,
    diagnosis_code          VARCHAR,
    age_years               INTEGER,
    specialty               VARCHAR,
    severity                VARCHAR,
    refractory              BOOLEAN,
    plasma_exchange         BOOLEAN,
    with_methylprednisolone BOOLEAN
);

-- What the derived tables (indication_resolution, order_audit, courses, cidp_review and the marts)
-- were last built from; a run rebuilds them all when it changes, else only what its batches touched.
CREATE TABLE IF NOT EXISTS derived_state (
    fingerprint VARCHAR NOT NULL,  -- sha256 of the rule set id, guideline/ and sql/ (pipelines/classify.py)
    built_at    TIMESTAMP NOT NULL
);

-- Databases made before repeats were told from corrections by comparing columns had a row_hash.
ALTER TABLE orders DROP COLUMN IF EXISTS row_hash;
ALTER TABLE orders_history DROP COLUMN IF EXISTS row_hash;
ALTER TABLE assessments DROP COLUMN IF EXISTS row_hash;
ALTER TABLE assessments_history DROP COLUMN IF EXISTS row_hash;

-- Databases made before patient_keys: their patients are numbered by sql/core/number_patients.sql.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS patient_seq BIGINT;
ALTER TABLE orders_history ADD COLUMN IF NOT EXISTS patient_seq BIGINT;
ALTER TABLE assessments ADD COLUMN IF NOT EXISTS patient_seq BIGINT;
ALTER TABLE assessments_history ADD COLUMN IF NOT EXISTS patient_seq BIGINT;

-- Databases made before orders.profile_id: their orders get it once, on their next classification
-- (sql/audit/audit_profiles.sql).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS profile_id BIGINT;
ALTER TABLE orders_history ADD COLUMN IF NOT EXISTS profile_id BIGINT;

-- Databases made before rows_replaced: the column comes last, and each batch's count is found in
-- the history tables, where every row a correction replaced is kept with the batch that replaced it.
ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS rows_replaced BIGINT;
UPDATE ingest_batches AS b
SET rows_replaced = (SELECT count(*) FROM orders_history AS h WHERE h.replaced_by_batch_id = b.batch_id)
                  + (SELECT count(*) FROM assessments_history AS h WHERE h.replaced_by_batch_id = b.batch_id)
WHERE rows_replaced IS NULL;

-- One row per check per batch (guideline/checks/<kind>.yaml), as Great Expectations evaluated it.
CREATE TABLE IF NOT EXISTS dq_results (
    batch_id     BIGINT NOT NULL,
    check_id     VARCHAR NOT NULL,
    column_name  VARCHAR,
    expectation  VARCHAR NOT NULL,   -- the Great Expectations expectation type
    severity     VARCHAR NOT NULL,   -- quarantine | flag
    violated     BIGINT NOT NULL,    -- rows failing the check
    denominator  BIGINT NOT NULL,    -- rows the check applies to (non-missing values)
    percent      DOUBLE NOT NULL,
    status       VARCHAR NOT NULL,   -- pass | fail
    message      VARCHAR NOT NULL,
    PRIMARY KEY (batch_id, check_id)
);
