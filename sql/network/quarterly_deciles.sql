-- Kind: network mart.
-- Grain: one row per calendar quarter in which a current site's share of grams graded Level U or
-- should not is shown: the deciles of that share across the sites (OpenPrescribing's decile
-- chart) and the network's pooled share.
-- Inputs: network_quarterly.
CREATE OR REPLACE TABLE network_quarterly_deciles AS
WITH
shares AS (
    SELECT quarter, weak_evidence_share, weak_evidence_grams, grams
    FROM network_quarterly
    WHERE status = 'current' AND weak_evidence_share IS NOT NULL
)

SELECT
    quarter,
    count(*) AS sites,
    quantile_cont(weak_evidence_share, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) AS deciles,
    sum(weak_evidence_grams) / sum(grams) AS network_share
FROM shares
GROUP BY quarter
ORDER BY quarter;
