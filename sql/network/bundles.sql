-- Kind: network table (pipelines/network.py fills it).
-- Grain: one row per bundle the run looked at: per site, its newest bundles down to the first that
-- passed the manifest check (used), each refused one with the reason.
-- Inputs: the bundle folders' manifest.json files.
CREATE OR REPLACE TABLE network_bundles (
    site              VARCHAR NOT NULL,
    bundle            VARCHAR NOT NULL,   -- the bundle's folder name (when it was written, UTC)
    status            VARCHAR NOT NULL,   -- used | refused
    reason            VARCHAR,            -- why it was refused
    made_at           TIMESTAMP,
    period_start      DATE,
    period_end        DATE,
    bundle_format     VARCHAR,
    product_version   VARCHAR,
    ruleset_id        VARCHAR,
    ruleset_version   VARCHAR,
    vocabulary_sha256 VARCHAR,
    free_text         BOOLEAN
);
