-- Grain: one row per CIDP patient (site, patient_key): their CIDP courses up to the latest, their
-- outcome measures, the review flags and the reasons in words. Thresholds are parameters from
-- guideline/treatment/cidp_review.yaml (each beside its source); measures and their minimal
-- important differences from ref_cidp_outcome_measures and ref_measures.
--
-- Maintenance intensity of a course: g/kg on dosing weight per week since the previous course. A
-- run is a sequence of courses no more than $max_interval_days apart (start to start); its first
-- course is the loading (or restart) course, the rest are maintenance.
CREATE OR REPLACE TABLE cidp_review AS
WITH
cidp_courses AS (
    SELECT site, patient_key, course_number, start_date, latest_order_id, total_g, g_per_kg_dosing,
           days_since_previous_course,
           coalesce(days_since_previous_course <= $max_interval_days, false) AS is_maintenance
    FROM courses
    WHERE condition = 'cidp'
),

runs AS (
    SELECT *,
        count(*) FILTER (WHERE NOT is_maintenance)
            OVER (PARTITION BY site, patient_key ORDER BY course_number) AS run_number
    FROM cidp_courses
),

-- Medians, so that one course given early or late moves nothing: the current intensity is the
-- median of the last $current_courses maintenance courses; the regimen so far, the median of the
-- earlier maintenance courses of the run.
maintenance AS (
    SELECT *,
        median(intensity) OVER recent AS current_intensity,
        median(intensity) OVER earlier AS intensity_so_far,
        count(*) OVER earlier AS courses_so_far
    FROM (SELECT *, g_per_kg_dosing / (days_since_previous_course / 7) AS intensity FROM runs WHERE is_maintenance)
    WINDOW
        recent AS (PARTITION BY site, patient_key, run_number ORDER BY course_number
                   ROWS BETWEEN $current_courses - 1 PRECEDING AND CURRENT ROW),
        earlier AS (PARTITION BY site, patient_key, run_number ORDER BY course_number
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),

-- A taper attempt: $sustained_courses maintenance courses in a row, each at least $min_reduction
-- below the regimen so far before the first of them (set by at least $reference_courses courses).
tapers AS (
    SELECT *,
        count(*) OVER ahead = $sustained_courses AND bool_and(is_reduced) OVER ahead AS starts_taper
    FROM (SELECT *,
              courses_so_far >= $reference_courses
                  AND round(intensity, 6) <= round((1 - $min_reduction) * intensity_so_far, 6) AS is_reduced
          FROM maintenance)
    WINDOW ahead AS (PARTITION BY site, patient_key, run_number ORDER BY course_number
                     ROWS BETWEEN CURRENT ROW AND $sustained_courses - 1 FOLLOWING)
),

patients AS (
    SELECT site, patient_key,
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

latest_runs AS (
    SELECT t.site, t.patient_key,
        arg_max(t.current_intensity, t.course_number) AS current_level,
        arg_max(t.g_per_kg_dosing, t.course_number) AS latest_g_per_kg,
        arg_max(t.days_since_previous_course, t.course_number) AS latest_interval_days,
        bool_or(t.starts_taper) AS taper_attempted
    FROM tapers AS t
    JOIN patients AS p ON p.site = t.site AND p.patient_key = t.patient_key AND p.latest_run = t.run_number
    GROUP BY ALL
),

-- Grams in any window of $high_user_window_months starting at a course.
windows AS (
    SELECT a.site, a.patient_key, a.start_date AS window_start, sum(b.total_g) AS window_g
    FROM cidp_courses AS a
    JOIN cidp_courses AS b
        ON b.site = a.site AND b.patient_key = a.patient_key
        AND b.start_date >= a.start_date AND b.start_date < a.start_date + to_months($high_user_window_months)
    GROUP BY ALL
),

heaviest_windows AS (
    SELECT site, patient_key, max(window_g) AS max_window_g, arg_max(window_start, window_g) AS max_window_start
    FROM windows
    GROUP BY ALL
),

measured AS (
    SELECT a.site, a.patient_key, a.assessment_date, a.measure, a.value, o.word, o.sort_order, m.better, m.mid,
           p.first_course_date, p.latest_course_date
    FROM assessments AS a
    JOIN ref_cidp_outcome_measures AS o USING (measure)
    JOIN ref_measures AS m USING (measure)
    JOIN patients AS p USING (site, patient_key)
),

reviews AS (
    SELECT site, patient_key,
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
    SELECT site, patient_key, measure, word, sort_order, better, mid, first_course_date,
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
      AND latest_date >= first_course_date + to_months($min_months_on_treatment)
),

patient_responses AS (
    SELECT site, patient_key,
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
    FROM ref_cidp_outcome_measures
),

evaluated AS (
    SELECT p.*, r.last_assessment_date, r.reviewed_early, r.reviewed_lately, l.current_level,
           l.latest_g_per_kg, l.latest_interval_days, l.taper_attempted, w.max_window_g, w.max_window_start,
           pr.improved, pr.evidence, mw.words AS measure_words,
           round(date_diff('day', p.first_course_date, p.latest_course_date) / 30.4375, 1) AS months_on_treatment,
           round(date_diff('day', p.run_start, p.latest_course_date) / 30.4375, 1) AS months_of_maintenance,
           p.latest_course_date >= p.first_course_date + to_months($first_review_within_months) AS review_due,
           p.latest_course_date >= p.first_course_date + to_months($min_months_on_treatment) AS response_due,
           p.latest_course_date >= p.run_start + to_months($min_months_of_maintenance) AS taper_due
    FROM patients AS p
    LEFT JOIN latest_runs AS l USING (site, patient_key)
    JOIN heaviest_windows AS w USING (site, patient_key)
    LEFT JOIN reviews AS r USING (site, patient_key)
    LEFT JOIN patient_responses AS pr USING (site, patient_key)
    CROSS JOIN measure_words AS mw
),

flagged AS (
    SELECT *,
        review_due AND (NOT coalesce(reviewed_early, false) OR NOT coalesce(reviewed_lately, false)) AS review_overdue,
        response_due AND improved = false AS no_response,
        taper_due AND NOT coalesce(taper_attempted, false) AS no_taper_attempt,
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
                printf('no dose reduction or longer interval tried in %s months of continuous treatment since %s '
                       '(%d%% or more less g/kg per week, held for %d courses)', plain_number(months_of_maintenance),
                       strftime(run_start, '%Y-%m'), CAST($min_reduction * 100 AS INTEGER), $sustained_courses) END,
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
    patient_key, site, latest_order_id, first_course_date, latest_course_date, n_courses,
    months_on_treatment, round(total_g, 1) AS total_g,
    round(current_level, 3) AS maintenance_g_per_kg_per_week,
    last_assessment_date, flags,
    list_has_any(flags, (SELECT list(flag) FROM ref_cidp_review_flags WHERE suspects_overuse)) AS overuse_suspected,
    array_to_string(reason_list, '; ') AS reasons,
    round(max_window_g, 1) AS heaviest_window_g  -- most grams in any high-user window (12 months)
FROM worded
ORDER BY site, patient_key;
