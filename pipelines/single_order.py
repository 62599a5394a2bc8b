"""Classify one order typed at the command line, through the same SQL as a full run, in an
in-memory database. Its age may be unknown (None), which an extract's order cannot be: the checks
quarantine it, so only this database lets orders.age_years be empty."""
from pipelines import classify, db, reference_cache


def classify_one(text: str, *, code: str | None, age: int | None, severity: str | None, specialty: str | None,
                 refractory: bool | None, plasma_exchange: bool | None,
                 with_methylprednisolone: bool | None, guideline: str | None) -> dict:
    con = db.connect(":memory:")
    db.run_sql_file(con, "schema.sql")
    ruleset_id = reference_cache.write_reference_tables(con, guideline)
    con.execute("ALTER TABLE orders ALTER age_years DROP NOT NULL")
    con.execute("""
        INSERT INTO orders (order_id, site, patient_key, patient_seq, age_years, weight_kg, order_date, start_date,
                            infusion_days, dose_g, indication, diagnosis_code, severity, refractory,
                            plasma_exchange, with_methylprednisolone, specialty, batch_id, source_row)
        VALUES ('cli', 'cli', 'cli', 1, ?, 70, current_date, current_date, 1, 1, ?, ?, ?, ?, ?, ?, ?, 0, 0)""",
        [age, text, code, severity, refractory, plasma_exchange, with_methylprednisolone, specialty])
    classify.classify_orders(con, ruleset_id)
    cursor = con.execute("SELECT * FROM order_audit")
    columns = [d[0] for d in cursor.description]
    return dict(zip(columns, cursor.fetchall()[0]))
