-- model: cidp_review
-- kind: incremental by patient
-- grain: one row per CIDP patient (site, patient_key): their CIDP courses up to the latest, their
--   outcome measures, the review flags and the reasons in words
-- reads: courses, patients_in_scope, assessments, patient_keys, ref_cidp_outcome_measures, ref_measures,
--   ref_cidp_review_flags
--
-- Thresholds are parameters from guideline/treatment/cidp_review.yaml (each beside its source);
-- measures and their minimal important differences from ref_cidp_outcome_measures and ref_measures.
-- Maintenance intensity of a course: g/kg on dosing weight per week since the previous course. A
-- run is a sequence of courses no more than $max_interval_days apart (start to start); its first
-- course is the loading (or restart) course, the rest are maintenance. The patients in scope
-- (sql/audit/scope.sql) are reviewed again.
WITH
cidp_courses AS (
    SELECT patient_seq, course_number, start_date, latest_order_id, total_g, g_per_kg_dosing,
           days_since_previous_course,
           coalesce(days_since_previous_course <= $max_interval_days, false) AS is_maintenance
    FROM courses SEMI JOIN patients_in_scope USING (patient_seq)
    WHERE condition = 'cidp'
),

runs AS (
    SELECT *,
        count(*) FILTER (WHERE NOT is_maintenance)
            OVER (PARTITION BY patient_seq ORDER BY course_number) AS run_number
    FROM cidp_courses
),

maintenance AS (
    SELECT *,
        g_per_kg_dosing / (days_since_previous_course / 7) AS intensity,
        row_number() OVER (PARTITION BY patient_seq, run_number ORDER BY course_number) AS nth,
        count(*) OVER (PARTITION BY patient_seq, run_number) AS courses_in_run
    FROM runs
    WHERE is_maintenance
),

-- Per run, the current regimen (the last $current_courses maintenance courses) and the initial one
-- (the first $initial_courses): median dose, median intensity (one course given early or late does
-- not move it) and overall rate (total g/kg over total weeks, which evens out a few days'
-- scheduling either way).
regimens AS (
    SELECT patient_seq, run_number,
        median(g_per_kg_dosing) FILTER (WHERE is_current) AS current_dose,
        median(intensity) FILTER (WHERE is_current) AS current_level,
        sum(g_per_kg_dosing) FILTER (WHERE is_current)
            / (sum(days_since_previous_course) FILTER (WHERE is_current) / 7) AS current_rate,
        median(g_per_kg_dosing) FILTER (WHERE is_initial) AS initial_dose,
        median(intensity) FILTER (WHERE is_initial) AS initial_level,
        sum(g_per_kg_dosing) FILTER (WHERE is_initial)
            / (sum(days_since_previous_course) FILTER (WHERE is_initial) / 7) AS initial_rate,
        arg_max(g_per_kg_dosing, course_number) AS latest_g_per_kg,
        arg_max(days_since_previous_course, course_number) AS latest_interval_days
    FROM (SELECT *, nth > courses_in_run - $current_courses AS is_current, nth <= $initial_courses AS is_initial
          FROM maintenance)
    GROUP BY ALL
),

patients AS (
    SELECT patient_seq,
        min(start_date) AS first_course_date,
        max(start_date) AS latest_course_date,
        count(*) AS n_courses,
        sum(total_g) AS total_g,
        arg_max(latest_order_id, course_number) AS latest_order_id,
        max(run_number) AS latest_run,
        max(start_date) FILTER (WHERE NOT is_maintenance) AS run_start  -- first course of the latest run
    FROM runs
    GROUP BY ALL
),

-- Grams in any window of $high_user_window_months starting at a course: the courses from its start
-- to the day before the same date that many months on (a patient's CIDP courses start on different days).
windows AS (
    SELECT patient_seq, start_date AS window_start,
        sum(total_g) OVER (PARTITION BY patient_seq ORDER BY start_date
                           RANGE BETWEEN CURRENT ROW
                                 AND (to_months($high_user_window_months) - INTERVAL 1 DAY) FOLLOWING) AS window_g
    FROM cidp_courses
),

heaviest_windows AS (
    -- the earliest of equally heavy windows, so the reason reads the same on every run
    SELECT patient_seq, max(window_g) AS max_window_g,
           arg_max(window_start, (window_g, -epoch(window_start))) AS max_window_start
    FROM windows
    GROUP BY ALL
),

measured AS (
    SELECT p.patient_seq, a.assessment_date, a.measure, a.value, o.word, o.sort_order, m.better, m.mid,
           p.first_course_date, p.latest_course_date
    FROM assessments AS a
    JOIN ref_cidp_outcome_measures AS o USING (measure)
    JOIN ref_measures AS m USING (measure)
    JOIN patients AS p USING (patient_seq)
),

reviews AS (
    SELECT patient_seq,
        max(assessment_date) AS last_assessment_date,
        bool_or(assessment_date > first_course_date
                AND assessment_date <= first_course_date + to_months($first_review_within_months)) AS reviewed_early,
        bool_or(assessment_date >= latest_course_date - to_months($review_every_months)) AS reviewed_lately
    FROM measured
    GROUP BY ALL
),

-- Baseline: the measure nearest the first course, on or before it, else the first within
-- $baseline_days_after days after it. Compared with the latest value of the same measure.
per_measure AS (
    SELECT patient_seq, measure, word, sort_order, better, mid, first_course_date,
        max(assessment_date) FILTER (WHERE assessment_date <= first_course_date) AS before_date,
        arg_max(value, assessment_date) FILTER (WHERE assessment_date <= first_course_date) AS before_value,
        min(assessment_date) FILTER (WHERE assessment_date > first_course_date
                                     AND assessment_date <= first_course_date + $baseline_days_after) AS after_date,
        arg_min(value, assessment_date) FILTER (WHERE assessment_date > first_course_date
                                                AND assessment_date <= first_course_date + $baseline_days_after) AS after_value,
        max(assessment_date) AS latest_date,
        arg_max(value, assessment_date) AS latest_value
    FROM measured
    GROUP BY ALL
),

responses AS (
    SELECT *,
        round(CASE better WHEN 'lower' THEN baseline_value - latest_value ELSE latest_value - baseline_value END, 6)
            AS improvement
    FROM (SELECT *, coalesce(before_date, after_date) AS baseline_date,
                 CASE WHEN before_date IS NOT NULL THEN before_value ELSE after_value END AS baseline_value
          FROM per_measure)
    WHERE baseline_date IS NOT NULL AND latest_date > baseline_date
      AND mid IS NOT NULL  -- a measure without a minimal important difference cannot show a response
),

patient_responses AS (
    SELECT patient_seq,
        bool_or(improvement >= mid) AS improved,
        string_agg(printf('%s %s on %s against %s at baseline on %s (improvement of %s needed)', word,
                          plain_number(latest_value), latest_date, plain_number(baseline_value), baseline_date,
                          plain_number(mid)), '; ' ORDER BY sort_order) AS evidence
    FROM responses
    GROUP BY ALL
),

measure_words AS (
    SELECT CASE WHEN count(*) = 1 THEN any_value(word)
                ELSE array_to_string(list(word ORDER BY sort_order)[:-2], ', ') || ' or ' || list(word ORDER BY sort_order)[-1]
           END AS words
    FROM (SELECT word, min(sort_order) AS sort_order FROM ref_cidp_outcome_measures GROUP BY word)
),

evaluated AS (
    SELECT p.*, r.last_assessment_date, r.reviewed_early, r.reviewed_lately, g.current_level, g.current_rate,
           g.initial_rate, g.latest_g_per_kg, g.latest_interval_days,
           w.max_window_g, w.max_window_start, pr.improved, pr.evidence, mw.words AS measure_words,
           round(date_diff('day', p.first_course_date, p.latest_course_date) / 30.4375, 1) AS months_on_treatment,
           round(date_diff('day', p.run_start, p.latest_course_date) / 30.4375, 1) AS months_of_maintenance,
           p.latest_course_date >= p.first_course_date + to_months($first_review_within_months) AS review_due,
           p.latest_course_date >= p.first_course_date + to_months($min_months_on_treatment) AS response_due,
           p.latest_course_date >= p.run_start + to_months($min_months_of_maintenance) AS taper_due,
           -- A sustained taper, now against the start: a lower dose not offset by shorter intervals,
           -- or less g/kg per week by both the median and the overall rate.
           (reduced(g.current_dose, g.initial_dose, $min_reduction)
                AND reduced(g.current_rate, g.initial_rate, $min_reduction))
            OR reduced(greatest(g.current_level, g.current_rate), least(g.initial_level, g.initial_rate),
                       $min_reduction) AS tapered
    FROM patients AS p
    LEFT JOIN regimens AS g ON g.patient_seq = p.patient_seq AND g.run_number = p.latest_run
    JOIN heaviest_windows AS w ON w.patient_seq = p.patient_seq
    LEFT JOIN reviews AS r ON r.patient_seq = p.patient_seq
    LEFT JOIN patient_responses AS pr ON pr.patient_seq = p.patient_seq
    CROSS JOIN measure_words AS mw
),

flagged AS (
    SELECT *,
        review_due AND (NOT coalesce(reviewed_early, false) OR NOT coalesce(reviewed_lately, false)) AS review_overdue,
        response_due AND improved = false AS no_response,
        taper_due AND NOT coalesce(tapered, false) AS no_taper_attempt,
        current_level > $high_intensity_above AS high_intensity,
        max_window_g > $high_user_above_g AS high_user
    FROM evaluated
),

worded AS (
    SELECT *,
        list_filter([
            CASE WHEN review_overdue THEN 'review_overdue' END,
            CASE WHEN no_response THEN 'no_response' END,
            CASE WHEN no_taper_attempt THEN 'no_taper_attempt' END,
            CASE WHEN high_intensity THEN 'high_intensity' END,
            CASE WHEN high_user THEN 'high_user' END
        ], lambda flag: flag IS NOT NULL) AS flags,
        list_filter([
            CASE WHEN review_overdue AND last_assessment_date IS NULL THEN
                printf('no %s recorded in %s months of treatment', measure_words, plain_number(months_on_treatment)) END,
            CASE WHEN review_overdue AND last_assessment_date IS NOT NULL AND NOT coalesce(reviewed_early, false) THEN
                printf('no %s recorded in the first %d months of treatment (started %s)', measure_words,
                       $first_review_within_months, first_course_date) END,
            CASE WHEN review_overdue AND last_assessment_date IS NOT NULL AND NOT coalesce(reviewed_lately, false) THEN
                printf('no %s recorded since %s, over %d months before the latest course (%s)', measure_words,
                       strftime(last_assessment_date, '%Y-%m'), $review_every_months, latest_course_date) END,
            CASE WHEN no_response THEN
                printf('no meaningful improvement after %s months of treatment: %s', plain_number(months_on_treatment), evidence) END,
            CASE WHEN no_taper_attempt THEN
                printf('no sustained dose reduction or longer interval in %s months of continuous treatment since %s: '
                       '%.2f g/kg per week over the last %d courses against %.2f over the first %d '
                       '(a taper is %d%% or more less)', plain_number(months_of_maintenance),
                       strftime(run_start, '%Y-%m'), current_rate, $current_courses, initial_rate,
                       $initial_courses, CAST(round($min_reduction * 100) AS INTEGER)) END,
            CASE WHEN high_intensity THEN
                printf('maintenance %.2f g/kg per week, above %s (latest %s g/kg after %d days)', current_level,
                       plain_number($high_intensity_above), plain_number(round(latest_g_per_kg, 2)),
                       latest_interval_days) END,
            CASE WHEN high_user THEN
                printf('%s g in the %d months from %s, above the high-user mark of %s g (informational)',
                       format('{:,}', round(max_window_g)::BIGINT), $high_user_window_months, max_window_start,
                       plain_number($high_user_above_g)) END
        ], lambda reason: reason IS NOT NULL) AS reason_list
    FROM flagged
)

SELECT
    patient_key, patient_seq, site, latest_order_id, first_course_date, latest_course_date, n_courses,
    months_on_treatment, round(total_g, 1) AS total_g,
    round(current_level, 3) AS maintenance_g_per_kg_per_week,
    last_assessment_date, flags,
    list_has_any(flags, (SELECT list(flag) FROM ref_cidp_review_flags WHERE suspects_overuse)) AS overuse_suspected,
    array_to_string(reason_list, '; ') AS reasons,
    round(max_window_g, 1) AS heaviest_window_g  -- most grams in any high-user window (12 months)
FROM worded JOIN patient_keys USING (patient_seq)
ORDER BY site, patient_key;
