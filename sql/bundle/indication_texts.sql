-- Kind: site bundle table (temporary; written to indication_texts.parquet only when the site allows
-- free text in its bundle: `ivig-audit bundle --allow-free-text`).
-- Grain: one row per indication text, normalised (normalise_text, sql/macros.sql), that named no
-- usable indication (unknown_indication) in the site's orders of the period and was typed for 5 or
-- more patients: what the network's vocabulary might learn. Texts of fewer patients are left out,
-- so a name or number typed for one patient cannot leave the site.
-- Inputs: order_audit (the orders of site $site dated $period_start to $period_end).
CREATE OR REPLACE TEMP TABLE bundle_indication_texts AS
WITH
orders_in_period AS (
    SELECT patient_seq, indication
    FROM order_audit
    WHERE site = $site AND order_date BETWEEN $period_start AND $period_end
      AND recommendation = 'unknown_indication'
),

normalised AS (
    SELECT patient_seq, normalise_text(indication) AS indication
    FROM orders_in_period
)

SELECT indication, count(*) AS orders, count(DISTINCT patient_seq) AS patients
FROM normalised
WHERE indication <> ''
GROUP BY indication
HAVING count(DISTINCT patient_seq) >= 5
ORDER BY orders DESC, indication;
