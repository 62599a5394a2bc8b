-- Reference tables of the treatment analysis, filled from guideline/treatment/*.yaml.
CREATE OR REPLACE TABLE ref_studied_regimens (
    condition VARCHAR PRIMARY KEY, max_g_per_kg_per_course DOUBLE NOT NULL, regimen VARCHAR, source VARCHAR);
CREATE OR REPLACE TABLE ref_cidp_outcome_measures (
    measure VARCHAR PRIMARY KEY,  -- ref_measures.measure
    word VARCHAR NOT NULL,        -- how the CIDP review's reasons name it
    sort_order INTEGER NOT NULL);
CREATE OR REPLACE TABLE ref_cidp_review_flags (
    flag VARCHAR PRIMARY KEY, suspects_overuse BOOLEAN NOT NULL, thresholds JSON, source VARCHAR);
