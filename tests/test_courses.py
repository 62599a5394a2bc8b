"""Treatment courses and dosing weight (sql/analysis/courses.sql) on a real DuckDB file."""
import pytest

from pipelines import analyse, classify, db, ingest, pseudonym
from pipelines.profile import SiteProfile
from tests.conftest import order_row, write_orders_csv


@pytest.fixture
def build(tmp_path, loaded_reference):
    """Ingest the given orders, classify them, build courses, and return the courses by patient."""
    def run(rows):
        con = db.connect(tmp_path / "audit.duckdb")
        ingest.prepare(con, loaded_reference)
        ingest.ingest_file(con, write_orders_csv(tmp_path / "orders.csv", rows), SiteProfile(),
                           pseudonym.hmac_pads(b"k"))
        classify.classify_orders(con, "aan-2012-ivig-nmd")
        analyse.analyse_treatment(con)
        cursor = con.execute("""SELECT o.patient_id_hint, c.* FROM courses AS c
                                JOIN (SELECT DISTINCT patient_key, split_part(order_id, '-', 1) AS patient_id_hint
                                      FROM orders) AS o USING (patient_key)
                                ORDER BY o.patient_id_hint, c.course_number""")
        names = [d[0] for d in cursor.description]
        courses = [dict(zip(names, row)) for row in cursor.fetchall()]
        con.close()
        return courses
    return run


def test_orders_within_the_gap_form_one_course_and_intervals_are_counted(build):
    rows = [
        order_row("A-1", patient_id="A", start_date="2024-01-01", infusion_days="2", dose_g="70"),
        order_row("A-2", patient_id="A", start_date="2024-01-09", infusion_days="3", dose_g="70"),  # gap 6 days
        order_row("A-3", patient_id="A", start_date="2024-02-01", infusion_days="1", dose_g="70"),  # gap 20 days
        order_row("A-4", patient_id="A", start_date="2024-02-01", indication="myasthenia gravis severe",
                  dose_g="70"),  # another condition: its own course
    ]
    courses = [c for c in build(rows) if c["condition"] == "cidp"]
    assert [(c["course_number"], str(c["start_date"]), str(c["end_date"]), c["n_orders"], c["total_g"])
            for c in courses] == [(1, "2024-01-01", "2024-01-11", 2, 140.0), (2, "2024-02-01", "2024-02-01", 1, 70.0)]
    assert [c["days_since_previous_course"] for c in courses] == [None, 31]


@pytest.mark.parametrize("values, basis, dosing_weight", [
    ({"sex": "M", "height_cm": "180", "weight_kg": "75"}, "actual", 75.0),       # IBW 50 + 2.3 x 10.87 = 74.99
    ({"sex": "M", "height_cm": "180", "weight_kg": "120"}, "adjusted", 93.0),    # 74.99 + 0.4 x 45.01
    ({"sex": "F", "height_cm": "160", "weight_kg": "80"}, "adjusted", 63.43),    # BMI 31.2; IBW 52.38
    ({"sex": "F", "height_cm": "145", "weight_kg": "80"}, "actual", 80.0),       # under 152 cm
    ({"sex": "", "height_cm": "170", "weight_kg": "110"}, "actual", 110.0),      # sex unknown: no IBW
    ({"sex": "M", "height_cm": "", "weight_kg": "110"}, "actual", 110.0),        # height missing
    ({"sex": "M", "height_cm": "170", "weight_kg": "90", "age_years": "12"}, "actual", 90.0),  # child
])
def test_dosing_weight(build, values, basis, dosing_weight):
    course = build([order_row("P-1", patient_id="P", dose_g="90", **values)])[0]
    assert (course["dosing_weight_basis"], course["dosing_weight_kg"]) == (basis, dosing_weight)
    assert course["g_per_kg_actual"] == round(90 / float(values["weight_kg"]), 3)
    assert course["g_per_kg_dosing"] == round(90 / dosing_weight, 3)


def test_a_course_above_the_studied_dose_is_flagged(build):
    """The ceilings are the largest regimens in the guideline's trials: GBS 0.4 g/kg/day for 6 days
    (2.4 g/kg, better in ventilated patients), MMN 0.5 g/kg/day for 5 days (2.5), CIDP loading 2."""
    courses = build([
        order_row("G-1", patient_id="G", indication="GBS", weight_kg="70", dose_g="140", infusion_days="5"),
        order_row("V-1", patient_id="V", indication="GBS - ventilated", weight_kg="70", dose_g="168", infusion_days="6"),
        order_row("H-1", patient_id="H", indication="GBS", weight_kg="70", dose_g="190", infusion_days="5"),
        order_row("M-1", patient_id="M", indication="MMN", weight_kg="70", dose_g="175", infusion_days="5"),
        order_row("C-1", patient_id="C", indication="CIDP", weight_kg="70", dose_g="168", infusion_days="5"),
    ])
    flags = {c["latest_order_id"]: c["flags"] for c in courses}
    assert flags == {"G-1": [], "V-1": [], "H-1": ["course_above_studied_dose"], "M-1": [],
                     "C-1": ["course_above_studied_dose"]}
