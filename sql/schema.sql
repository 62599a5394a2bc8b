-- Contract tables (../shared/DESIGN.md). Created once; later runs add to them.
CREATE SEQUENCE IF NOT EXISTS batch_id_seq START 1;

CREATE TABLE IF NOT EXISTS ingest_batches (
    batch_id          BIGINT PRIMARY KEY,
    source_file       VARCHAR NOT NULL,
    sha256            VARCHAR NOT NULL,
    kind              VARCHAR,
    site              VARCHAR,
    rows_read         BIGINT NOT NULL,
    rows_loaded       BIGINT NOT NULL,
    rows_quarantined  BIGINT NOT NULL,
    rows_unchanged    BIGINT NOT NULL,
    status            VARCHAR NOT NULL,   -- loaded | rejected
    reason            VARCHAR,            -- why a file was rejected, or what was ignored in it
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine (
    batch_id    BIGINT NOT NULL,
    source_row  BIGINT,          -- data row in the file, 1 = first row after the header
    reasons     VARCHAR[] NOT NULL,
    record      JSON             -- the row as read, patient_id replaced by patient_key, date_of_birth withheld
);

CREATE TABLE IF NOT EXISTS orders (
    order_id                VARCHAR NOT NULL,
    site                    VARCHAR NOT NULL,
    patient_key             VARCHAR NOT NULL,
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
    batch_id                BIGINT NOT NULL,
    source_row              BIGINT NOT NULL,
    row_hash                VARCHAR NOT NULL,
    PRIMARY KEY (site, order_id)
);

CREATE TABLE IF NOT EXISTS orders_history AS
    SELECT *, NULL::BIGINT AS replaced_by_batch_id FROM orders WITH NO DATA;
