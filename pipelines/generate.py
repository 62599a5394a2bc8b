"""Synthetic IVIg order extracts in the standard format: deterministic for a seed, vectorised
(numpy and polars, no per-row Python), with the mix an audit meets in real life: every graded
condition, messy free text, children, plasma exchange, MG severities, refractory dermatomyositis,
uses outside the guideline, blank indications, and CIDP patients on multi-year maintenance."""
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Profile:
    condition: str
    patient_share: float
    orders: tuple[int, int]        # orders per patient, inclusive range
    interval_days: tuple[int, int]  # between orders of one patient
    g_per_kg: tuple[float, float]   # per order
    infusion_days: tuple[int, int]
    child_share: float
    texts: tuple[str, ...]
    codes: tuple[str, ...]
    specialty: str


PROFILES = (
    Profile("gbs", .10, (1, 2), (10, 30), (1.8, 2.0), (5, 5), .2,
            ("Guillain-Barre syndrome", "GBS", "guillain barré", "Guillian Barre syndrome", "AIDP",
             "gbs - acute", "?GBS", "Guillain Barre Syndrome (GBS)", "acute inflammatory demyelinating polyneuropathy"),
            ("G61.0",), "Neurology"),
    Profile("miller_fisher_syndrome", .02, (1, 1), (0, 0), (1.8, 2.0), (5, 5), .1,
            ("Miller Fisher syndrome", "MFS", "Miller-Fisher variant GBS", "miller fischer"), ("G61.0",), "Neurology"),
    Profile("cidp", .13, (10, 45), (21, 42), (0.4, 1.2), (1, 3), 0,
            ("CIDP", "cidp maintenance", "Chronic inflammatory demyelinating polyneuropathy", "C.I.D.P.",
             "CIDP - maintenance IVIg", "chronic inflamatory demyelinating polyneuropathy", "CIDP (A-CIDP)"),
            ("G61.81", "G61.8"), "Neurology"),
    Profile("mmn", .04, (6, 20), (28, 35), (1.0, 2.0), (2, 5), 0,
            ("MMN", "multifocal motor neuropathy", "MMN with conduction block", "Multifocal Motor Neuropathy"),
            ("G61.82", "G61.8"), "Neurology"),
    Profile("myasthenia_gravis", .12, (1, 3), (30, 120), (1.0, 2.0), (2, 5), .03,
            ("myasthenia gravis", "MG", "Myasthenic crisis", "MG exacerbation", "myasthenia gravis - mild",
             "Myasthenia Gravis", "mysthenia gravis", "generalised MG"),
            ("G70.00", "G70.01", "G70.0"), "Neurology"),
    Profile("lems", .01, (1, 4), (28, 60), (1.0, 2.0), (2, 5), 0,
            ("LEMS", "Lambert-Eaton myasthenic syndrome", "lambert eaton"), ("G70.80", "G73.1"), "Neurology"),
    Profile("dermatomyositis", .04, (1, 6), (28, 42), (1.0, 2.0), (2, 5), 0,
            ("dermatomyositis", "refractory dermatomyositis", "DM - refractory to steroids", "Dermatomyositis",
             "dermatomyositis, nonresponsive"), ("M33.10", "M33.1"), "Rheumatology"),
    Profile("juvenile_dermatomyositis", .01, (1, 4), (28, 42), (1.0, 2.0), (2, 3), 1,
            ("juvenile dermatomyositis", "JDM"), ("M33.0", "M33.00"), "Paediatrics"),
    Profile("polymyositis", .02, (1, 4), (28, 42), (1.0, 2.0), (2, 5), 0,
            ("polymyositis", "PM", "poly myositis"), ("M33.20", "M33.2"), "Rheumatology"),
    Profile("inclusion_body_myositis", .02, (1, 6), (28, 42), (1.0, 2.0), (2, 5), 0,
            ("inclusion body myositis", "IBM", "sIBM"), ("G72.41",), "Neurology"),
    Profile("diabetic_radiculoplexus_neuropathy", .01, (1, 2), (28, 60), (1.0, 2.0), (2, 5), 0,
            ("diabetic amyotrophy", "diabetic lumbosacral radiculoplexus neuropathy", "DLRPN"),
            ("E11.44", "E10.44"), "Neurology"),
    Profile("igm_paraprotein_neuropathy", .02, (1, 6), (28, 60), (1.0, 2.0), (2, 5), 0,
            ("anti-MAG neuropathy", "IgM paraproteinaemic neuropathy", "IgM MGUS neuropathy"), ("D47.2",), "Neurology"),
    Profile("postpolio_syndrome", .01, (1, 2), (60, 180), (1.0, 2.0), (2, 3), 0,
            ("post-polio syndrome", "postpolio syndrome", "PPS"), ("G14",), "Neurology"),
    Profile("immune_thrombocytopenia", .12, (1, 3), (14, 90), (1.0, 2.0), (1, 2), .3,
            ("ITP", "immune thrombocytopenia", "Immune thrombocytopenic purpura"), ("D69.3",), "Haematology"),
    Profile("immunodeficiency", .12, (6, 13), (21, 35), (0.4, 0.6), (1, 1), .15,
            ("CVID", "primary immunodeficiency", "secondary immunodeficiency - CLL", "hypogammaglobulinaemia",
             "PID replacement"), ("D80.1", "D83.9", "D84.9"), "Immunology"),
    Profile("kawasaki_disease", .02, (1, 1), (0, 0), (2.0, 2.0), (1, 1), 1,
            ("Kawasaki disease", "kawasaki"), ("M30.3",), "Paediatrics"),
    Profile("other_indication", .03, (1, 2), (14, 60), (1.0, 2.0), (1, 5), 0,
            ("stiff person syndrome", "pemphigus vulgaris", "autoimmune encephalitis", "toxic shock syndrome"),
            ("",), "Other"),
    Profile("unknown", .05, (1, 3), (21, 60), (0.4, 2.0), (1, 5), 0,
            ("", "see notes", "?", "as per consultant", "IVIG", "neuropathy", "CIDP or MMN"), ("",), "Neurology"),
)
PRODUCTS = ("Privigen", "Octagam", "Intratect", "Gamunex", "Kiovig", "Panzyga")
SITES = ("RFH", "STM")
START, END = date(2022, 1, 1), date(2025, 12, 31)


def _between(rng: np.random.Generator, bounds: np.ndarray, size: int) -> np.ndarray:
    return bounds[:, 0] + rng.random(size) * (bounds[:, 1] - bounds[:, 0])


def generate_orders(n_orders: int, seed: int = 2012) -> pl.DataFrame:
    """n_orders orders as a standard orders extract (all text, as a hospital export would be)."""
    rng = np.random.default_rng(seed)
    shares = np.array([p.patient_share for p in PROFILES])
    mean_orders = float((shares / shares.sum()) @ np.array([sum(p.orders) / 2 for p in PROFILES]))
    n_patients = max(int(n_orders / mean_orders * 1.3) + 10, 10)

    # patients
    kind = rng.choice(len(PROFILES), size=n_patients, p=shares / shares.sum())
    order_range = np.array([p.orders for p in PROFILES])[kind]
    n_each = rng.integers(order_range[:, 0], order_range[:, 1] + 1)
    keep = np.searchsorted(np.cumsum(n_each), n_orders) + 1
    kind, n_each = kind[:keep], n_each[:keep]
    n_each[-1] -= n_each.sum() - n_orders
    n_patients = keep
    child = rng.random(n_patients) < np.array([p.child_share for p in PROFILES])[kind]
    age = np.where(child, rng.integers(1, 18, n_patients), rng.integers(18, 90, n_patients))
    female = rng.random(n_patients) < 0.5
    adult_weight = np.clip(rng.normal(np.where(female, 70, 84), 16), 40, 180)
    weight = np.where(child, np.clip(4 + age * 3.2 + rng.normal(0, 3, n_patients), 3, 90), adult_weight)
    height = np.where(child, 60 + age * 6.0, rng.normal(np.where(female, 163, 176), 7))
    first_day = rng.integers(0, (END - START).days - 60, n_patients)

    # orders: repeat patient attributes, then walk each patient's dates forward
    patient = np.repeat(np.arange(n_patients), n_each)
    k = kind[patient]
    first_of_patient = np.r_[True, patient[1:] != patient[:-1]]
    gaps = _between(rng, np.array([p.interval_days for p in PROFILES], float)[k], n_orders).round()
    gaps[first_of_patient] = 0
    group_start = np.maximum.accumulate(np.where(first_of_patient, np.arange(n_orders), 0))
    cumulative = np.cumsum(gaps)
    day = first_day[patient] + cumulative - cumulative[group_start]
    order_date = np.datetime64(START) + np.minimum(day, (END - START).days).astype("timedelta64[D]")

    g_per_kg = _between(rng, np.array([p.g_per_kg for p in PROFILES])[k], n_orders)
    cidp = np.array([p.condition for p in PROFILES])[k] == "cidp"
    g_per_kg[cidp & first_of_patient] = 2.0  # loading dose
    dose = np.maximum(np.round(g_per_kg * weight[patient] / 2.5) * 2.5, 2.5)
    days_range = np.array([p.infusion_days for p in PROFILES])[k]
    infusion_days = rng.integers(days_range[:, 0], days_range[:, 1] + 1)

    text = np.empty(n_orders, dtype=object)
    code = np.empty(n_orders, dtype=object)
    for index, profile in enumerate(PROFILES):
        mask = k == index
        text[mask] = np.array(profile.texts, dtype=object)[rng.integers(0, len(profile.texts), mask.sum())]
        code[mask] = np.array(profile.codes, dtype=object)[rng.integers(0, len(profile.codes), mask.sum())]
    code[rng.random(n_orders) < 0.4] = ""
    messy = rng.random(n_orders)
    text = np.where(messy < 0.08, np.char.upper(text.astype(str)), text.astype(str))
    text = np.where((messy > 0.08) & (messy < 0.12), np.char.add("  ", np.char.lower(text)), text)

    conditions = np.array([p.condition for p in PROFILES])[k]
    is_mg, is_gbs, is_dm = conditions == "myasthenia_gravis", conditions == "gbs", conditions == "dermatomyositis"
    severity = np.where(is_mg, rng.choice(["mild", "moderate", "severe", ""], n_orders, p=[.15, .35, .25, .25]), "")
    refractory = np.where(is_dm, rng.choice(["Y", "N", ""], n_orders, p=[.6, .2, .2]), "")
    plasma_exchange = np.where(is_gbs & (rng.random(n_orders) < .08), "Y", np.where(is_gbs, "N", ""))
    methylpred = np.where(is_gbs & (rng.random(n_orders) < .05), "Y", "")

    birth = (np.datetime64(START) + first_day.astype("timedelta64[D]")
             - (age * 365.25 + rng.integers(0, 365, n_patients)).astype("timedelta64[D]"))
    give_dob = rng.random(n_patients) < 0.5
    age_at_order = age[patient] + ((order_date - order_date[group_start]).astype(int) // 365)
    site = np.array(SITES)[rng.integers(0, len(SITES), n_patients)][patient]
    specialty = np.array([p.specialty for p in PROFILES])[k]
    specialty = np.where(child[patient] & (specialty == "Neurology"), "Paediatric neurology", specialty)

    return pl.DataFrame({
        "order_id": np.char.add("ORD", np.char.zfill(np.arange(1, n_orders + 1).astype(str), 8)),
        "patient_id": np.char.add("MRN", np.char.zfill((patient * 7919 % 9_999_991).astype(str), 7)),
        "age_years": np.where(give_dob[patient], "", age_at_order.astype(str)),
        "date_of_birth": np.where(give_dob[patient], birth[patient].astype(str), ""),
        "sex": np.where(female[patient], "F", "M"),
        "weight_kg": np.round(weight[patient], 1).astype(str),
        "height_cm": np.where(rng.random(n_orders) < 0.2, "", np.round(height[patient]).astype(int).astype(str)),
        "order_date": order_date.astype(str),
        "start_date": (order_date + rng.integers(0, 3, n_orders).astype("timedelta64[D]")).astype(str),
        "infusion_days": infusion_days.astype(str),
        "dose_g": dose.astype(str),
        "product": np.array(PRODUCTS)[rng.integers(0, len(PRODUCTS), n_orders)],
        "indication": text,
        "diagnosis_code": code.astype(str),
        "severity": severity,
        "refractory": refractory,
        "plasma_exchange": plasma_exchange,
        "with_methylprednisolone": methylpred,
        "specialty": specialty,
        "department": np.where(child[patient], "Children's", "Adult"),
        "prescriber_id": np.char.add("P", np.char.zfill(rng.integers(1, 60, n_orders).astype(str), 3)),
        "site": site,
    })


def write_extract(n_orders: int, out_dir: Path, seed: int = 2012) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"orders_{n_orders}_seed{seed}.csv"
    generate_orders(n_orders, seed).write_csv(path)
    return path
