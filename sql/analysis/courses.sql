-- model: courses
-- kind: incremental by patient
-- grain: one row per treatment course: the orders of one patient and condition whose infusion days
--   touch or fall within $gap_days of each other (guideline/treatment/courses.yaml)
-- reads: orders, patients_in_scope, profile_verdicts, audit_rulesets, patient_keys, ref_studied_regimens
--
-- Dose per kg on actual and on dosing weight (Devine ideal body weight; adjusted weight when obese),
-- the interval since the previous course, and a flag when the course exceeds the dose studied in the
-- trials. The patients in scope (sql/audit/scope.sql) get their courses rebuilt.
WITH
-- Height and sex left blank on an order are taken from the patient's nearest order that has
-- them (the latest before, else the first after), so one blank field does not change the dosing weight.
treated AS (
    SELECT patient_seq, condition, order_id, start_date, end_date, dose_g, weight_kg, age_years,
        coalesce(height_cm, last_value(height_cm IGNORE NULLS) OVER before,
                 first_value(height_cm IGNORE NULLS) OVER after) AS height_cm,
        coalesce(sex, last_value(sex IGNORE NULLS) OVER before, first_value(sex IGNORE NULLS) OVER after) AS sex
    FROM (
        SELECT o.patient_seq,
               coalesce(v.condition, 'unknown') AS condition,
               o.order_id,
               o.start_date, o.start_date + (o.infusion_days - 1) AS end_date, o.dose_g, o.weight_kg,
               o.height_cm, CASE upper(left(o.sex, 1)) WHEN 'M' THEN 'M' WHEN 'F' THEN 'F' END AS sex, o.age_years
        FROM orders AS o
        SEMI JOIN patients_in_scope USING (patient_seq)
        -- the order's condition as order_audit has it: its profile's, under the primary rule set
        -- (orders.profile_id), rather than a join of every order to order_audit
        JOIN profile_verdicts AS v
          ON v.profile_id = o.profile_id
         AND v.ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
    )
    WINDOW
        before AS (PARTITION BY patient_seq ORDER BY start_date, order_id ROWS UNBOUNDED PRECEDING),
        after AS (PARTITION BY patient_seq ORDER BY start_date, order_id
                  ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
),

-- is_last: the next order starts a new course (or there is none); the course's latest order,
-- whose weight, height and sex the course takes.
chained AS (
    SELECT *,
        max(end_date) OVER (by_condition ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end,
        coalesce(lead(start_date) OVER by_condition
                 > max(end_date) OVER (by_condition ROWS UNBOUNDED PRECEDING) + $gap_days, true) AS is_last
    FROM treated
    WINDOW by_condition AS (PARTITION BY patient_seq, condition ORDER BY start_date, order_id)
),

-- is_first: the order starts a course. The previous course's start comes from the same window,
-- so the interval between courses needs no further pass over them.
numbered AS (
    SELECT *,
        count(*) FILTER (WHERE is_first) OVER by_condition AS course_number,
        max(start_date) FILTER (WHERE is_first)
            OVER (by_condition ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_course_start
    FROM (SELECT *, previous_end IS NULL OR start_date > previous_end + $gap_days AS is_first FROM chained)
    WINDOW by_condition AS (PARTITION BY patient_seq, condition ORDER BY start_date, order_id)
),

grouped AS (
    SELECT patient_seq, condition, course_number,
        min(start_date) AS start_date, max(end_date) AS end_date, count(*) AS n_orders,
        sum(dose_g) AS total_g,
        any_value(order_id) FILTER (WHERE is_last) AS latest_order_id,
        any_value(weight_kg) FILTER (WHERE is_last) AS weight_kg,
        any_value(height_cm) FILTER (WHERE is_last) AS height_cm,  -- blank only if blank on every order
        any_value(sex) FILTER (WHERE is_last) AS sex,
        min(age_years) AS age_years,
        any_value(previous_course_start) FILTER (WHERE is_first) AS previous_course_start
    FROM numbered
    GROUP BY ALL
),

weighed AS (
    SELECT *,
        CASE sex WHEN 'M' THEN $ibw_male WHEN 'F' THEN $ibw_female END
            + $ibw_per_inch * (height_cm / 2.54 - 60) AS ibw_kg,
        weight_kg / pow(height_cm / 100, 2) AS bmi
    FROM grouped
),

dosing AS (
    SELECT *,
        CASE WHEN age_years < $actual_age_below OR height_cm IS NULL OR height_cm < $actual_height_below
                  OR ibw_kg IS NULL THEN 'actual'
             WHEN bmi > $adjusted_bmi_above OR weight_kg > $adjusted_ratio_above * ibw_kg THEN 'adjusted'
             ELSE 'actual' END AS dosing_weight_basis
    FROM weighed
),

final AS (
    SELECT d.*,
        CASE dosing_weight_basis WHEN 'adjusted' THEN ibw_kg + $adjusted_fraction * (weight_kg - ibw_kg)
             ELSE weight_kg END AS dosing_weight_kg,
        start_date - previous_course_start AS days_since_previous_course,
        r.max_g_per_kg_per_course AS studied_max_g_per_kg
    FROM dosing AS d
    LEFT JOIN ref_studied_regimens AS r USING (condition)
)

SELECT
    p.site, p.patient_key, patient_seq, condition, course_number, start_date, end_date, n_orders, latest_order_id,
    round(total_g, 3) AS total_g, weight_kg, height_cm, sex, age_years,
    round(ibw_kg, 2) AS ibw_kg, round(bmi, 1) AS bmi, dosing_weight_basis,
    round(dosing_weight_kg, 2) AS dosing_weight_kg,
    round(total_g / weight_kg, 3) AS g_per_kg_actual,
    round(total_g / dosing_weight_kg, 3) AS g_per_kg_dosing,
    days_since_previous_course,
    list_filter([
        CASE WHEN total_g / dosing_weight_kg > studied_max_g_per_kg * (1 + $tolerance)
             THEN 'course_above_studied_dose' END
    ], lambda flag: flag IS NOT NULL) AS flags
FROM final JOIN patient_keys AS p USING (patient_seq);
