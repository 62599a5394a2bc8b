-- Kind: view. Grain: one row per order in `orders`: the order's key, patient, grams and profile.
-- Inputs: orders. The link from an order to its verdicts (order_verdicts): each order holds its
-- profile's number (orders.profile_id, set at load), so no per-order copy is written when orders
-- are classified or audited again.
CREATE OR REPLACE VIEW order_profiles AS
SELECT site, order_id, patient_seq, dose_g, profile_id
FROM orders;
