"""Synthetic IVIg extracts in the standard formats: deterministic for a seed, vectorised (numpy and
polars, no per-row Python), with the mix an audit meets in real life: every graded condition, messy
free text, children, plasma exchange, MG severities, refractory dermatomyositis, uses outside the
guideline, blank indications, and CIDP patients on maintenance with their outcome measures, some
reviewed and improving, some whose treatment deserves review (CIDP_HISTORIES).

Two shapes: "standard", each patient's orders for one condition at its regimen's intervals, and
"mixed", shaped like a large hospital's extract (SHAPES): about 12 orders per patient at random
dates, most patients with some CIDP orders, and a tenth of orders Level U or should-not, which makes
the Level U list and the CIDP review large."""
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from pipelines.analyse import load_treatment
from pipelines.profile import DOSE_TO_G, HEIGHT_TO_CM, WEIGHT_TO_KG, SiteProfile


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
    Profile("cidp", .13, (1, 40), (21, 28), (1.0, 2.0), (1, 3), 0,  # per patient from CIDP_HISTORIES
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


@dataclass(frozen=True)
class CidpHistory:
    """A CIDP patient's course: 2 g/kg loading, then maintenance every interval_days (give or take 2
    days), the dose times `taper` from 40% of the way on; INCAT (and for half, MRC sum) measured at
    baseline and about every 3 months while `reviews` lasts. `suspected` is what the CIDP review
    should conclude (sql/analysis/cidp_review.sql); the tests hold the review to it."""
    label: str
    share: float
    orders: tuple[int, int]
    g_per_kg: float
    interval_days: int
    taper: float
    reviews: str  # regular | none | first_months
    improves: bool
    suspected: bool


CIDP_HISTORIES = (
    CidpHistory("reviewed, improving, tapered", .28, (18, 40), 1.0, 21, 0.75, "regular", True, False),
    CidpHistory("reviewed, improving, under a year", .15, (4, 14), 1.0, 21, 1.0, "regular", True, False),
    CidpHistory("a single induction course", .10, (1, 1), 2.0, 21, 1.0, "regular", True, False),
    CidpHistory("no taper attempt", .15, (20, 40), 1.0, 21, 1.0, "regular", True, True),
    CidpHistory("never measured", .10, (10, 30), 1.0, 28, 1.0, "none", True, True),
    CidpHistory("review lapsed", .07, (26, 40), 0.8, 21, 0.75, "first_months", True, True),
    CidpHistory("no response", .08, (8, 20), 1.0, 21, 1.0, "regular", False, True),
    CidpHistory("high intensity", .07, (8, 16), 2.0, 21, 1.0, "regular", True, True),
)
PRODUCTS = ("Privigen", "Octagam", "Intratect", "Gamunex", "Kiovig", "Panzyga")
SITES = ("RFH", "STM")
SHAPES = ("standard", "mixed")
# the "mixed" shape: patients of Level U conditions drawn this much more often (about a tenth of
# orders then Level U or should-not), orders per patient, and the share of patients with CIDP orders
MIXED_WEAK_EVIDENCE_WEIGHT = 2.5
WEAK_EVIDENCE_CONDITIONS = ("miller_fisher_syndrome", "inclusion_body_myositis", "polymyositis",
                            "diabetic_radiculoplexus_neuropathy", "igm_paraprotein_neuropathy", "postpolio_syndrome")
MIXED_ORDERS_PER_PATIENT = 12
MIXED_CIDP_PATIENT_SHARE = 0.8
CIDP = next(index for index, p in enumerate(PROFILES) if p.condition == "cidp")
START, END = date(2022, 1, 1), date(2025, 12, 31)


def _between(rng: np.random.Generator, bounds: np.ndarray, size: int) -> np.ndarray:
    return bounds[:, 0] + rng.random(size) * (bounds[:, 1] - bounds[:, 0])


def generate(n_orders: int, seed: int = 2012, shape: str = "standard") -> "Extracts":
    """n_orders orders and the CIDP patients' outcome measures as standard extracts (all text, as a
    hospital export would be), in one of SHAPES."""
    rng = np.random.default_rng(seed)
    shares = np.array([p.patient_share for p in PROFILES])
    if shape == "mixed":
        shares = shares * np.where(np.isin([p.condition for p in PROFILES], WEAK_EVIDENCE_CONDITIONS),
                                   MIXED_WEAK_EVIDENCE_WEIGHT, 1.0)
    mean_orders = float((shares / shares.sum()) @ np.array([sum(p.orders) / 2 for p in PROFILES]))
    n_patients = max(int(n_orders / mean_orders * 1.3) + 10, 10)

    # patients
    kind = rng.choice(len(PROFILES), size=n_patients, p=shares / shares.sum())
    cidp_shares = np.array([h.share for h in CIDP_HISTORIES])
    history = np.where(kind == CIDP, rng.choice(len(CIDP_HISTORIES), n_patients, p=cidp_shares / cidp_shares.sum()), -1)
    order_range = np.where((history >= 0)[:, None], np.array([h.orders for h in CIDP_HISTORIES])[history],
                           np.array([p.orders for p in PROFILES])[kind])
    n_each = rng.integers(order_range[:, 0], order_range[:, 1] + 1)
    keep = np.searchsorted(np.cumsum(n_each), n_orders) + 1
    kind, n_each, history, order_range = kind[:keep], n_each[:keep], history[:keep], order_range[:keep]
    n_each[-1] -= n_each.sum() - n_orders
    n_patients = keep
    child = rng.random(n_patients) < np.array([p.child_share for p in PROFILES])[kind]
    age = np.where(child, rng.integers(1, 18, n_patients), rng.integers(18, 90, n_patients))
    female = rng.random(n_patients) < 0.5
    adult_weight = np.clip(rng.normal(np.where(female, 70, 84), 16), 40, 180)
    weight = np.where(child, np.clip(4 + age * 3.2 + rng.normal(0, 3, n_patients), 3, 90), adult_weight)
    height = np.where(child, 60 + age * 6.0, rng.normal(np.where(female, 163, 176), 7))

    # orders: repeat patient attributes, then walk each patient's dates forward from a first day
    # chosen so that the whole history falls within START..END
    patient = np.repeat(np.arange(n_patients), n_each)
    k, story = kind[patient], history[patient]
    cidp = story >= 0
    first_of_patient = np.r_[True, patient[1:] != patient[:-1]]
    group_start = np.maximum.accumulate(np.where(first_of_patient, np.arange(n_orders), 0))
    nth = np.arange(n_orders) - group_start
    gaps = np.where(cidp, np.array([h.interval_days for h in CIDP_HISTORIES])[story] + rng.integers(-2, 3, n_orders),
                    _between(rng, np.array([p.interval_days for p in PROFILES], float)[k], n_orders).round())
    gaps[first_of_patient] = 0
    cumulative = np.cumsum(gaps)
    offset = cumulative - cumulative[group_start]
    span = offset[np.r_[patient[1:] != patient[:-1], True]].astype(int)  # days from first to last order
    first_day = (rng.random(n_patients) * np.maximum((END - START).days - span, 1)).astype(int)
    day = first_day[patient] + offset
    order_date = np.datetime64(START) + day.astype("timedelta64[D]")

    taper_from = np.ceil(n_each * 0.4)[patient]
    g_per_kg = np.where(cidp, np.array([h.g_per_kg for h in CIDP_HISTORIES])[story]
                        * np.where(nth >= taper_from, np.array([h.taper for h in CIDP_HISTORIES])[story], 1.0),
                        _between(rng, np.array([p.g_per_kg for p in PROFILES])[k], n_orders))
    g_per_kg[cidp & first_of_patient] = 2.0  # loading dose
    dose = np.maximum(np.round(g_per_kg * _dosing_weight(weight, height, female, child)[patient] / 2.5) * 2.5, 2.5)
    days_range = np.array([p.infusion_days for p in PROFILES])[k]
    infusion_days = rng.integers(days_range[:, 0], days_range[:, 1] + 1)

    # free text and codes as indices into every profile's lists, made into strings by polars
    texts = [t for p in PROFILES for t in p.texts]
    codes = [c for p in PROFILES for c in p.codes]
    text_at, code_at = np.cumsum([0] + [len(p.texts) for p in PROFILES]), np.cumsum([0] + [len(p.codes) for p in PROFILES])
    text = np.empty(n_orders, dtype=np.int64)
    code = np.empty(n_orders, dtype=np.int64)
    for index, profile in enumerate(PROFILES):
        mask = k == index
        text[mask] = text_at[index] + rng.integers(0, len(profile.texts), mask.sum())
        code[mask] = code_at[index] + rng.integers(0, len(profile.codes), mask.sum())
    code[rng.random(n_orders) < 0.4] = len(codes)  # blank
    messy = rng.random(n_orders)

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
    patient_ids = np.char.add("MRN", np.char.zfill((np.arange(n_patients) * 7919 % 9_999_991).astype(str), 7))
    patient_site = np.array(SITES)[rng.integers(0, len(SITES), n_patients)]
    site = patient_site[patient]
    specialty = np.array([p.specialty for p in PROFILES])[k]
    specialty = np.where(child[patient] & (specialty == "Neurology"), "Paediatric neurology", specialty)

    orders = pl.DataFrame({
        "order_number": np.arange(1, n_orders + 1),
        "patient_id": patient_ids[patient],
        "give_dob": give_dob[patient],
        "age_at_order": age_at_order,
        "birth": birth[patient],
        "female": female[patient],
        "weight": weight[patient],
        "no_height": rng.random(n_orders) < 0.2,
        "height": height[patient],
        "order_date": order_date,
        "start_offset": rng.integers(0, 3, n_orders),
        "infusion_days": infusion_days,
        "dose_g": dose,
        "product": rng.integers(0, len(PRODUCTS), n_orders),
        "text": text, "messy": messy, "code": code,
        "severity": severity, "refractory": refractory, "plasma_exchange": plasma_exchange,
        "with_methylprednisolone": methylpred,
        "specialty": specialty,
        "child": child[patient],
        "prescriber": rng.integers(1, 60, n_orders),
        "site": site,
    }).select(
        order_id=pl.lit("ORD") + pl.col("order_number").cast(pl.String).str.zfill(8),
        patient_id=pl.col("patient_id"),
        age_years=pl.when(pl.col("give_dob")).then(pl.lit("")).otherwise(pl.col("age_at_order").cast(pl.String)),
        date_of_birth=pl.when(pl.col("give_dob")).then(pl.col("birth").cast(pl.String)).otherwise(pl.lit("")),
        sex=pl.when(pl.col("female")).then(pl.lit("F")).otherwise(pl.lit("M")),
        weight_kg=pl.col("weight").round(1).cast(pl.String),
        height_cm=pl.when(pl.col("no_height")).then(pl.lit("")).otherwise(pl.col("height").round().cast(pl.Int64).cast(pl.String)),
        order_date=pl.col("order_date").cast(pl.String),
        start_date=(pl.col("order_date") + pl.duration(days=pl.col("start_offset"))).cast(pl.String),
        infusion_days=pl.col("infusion_days").cast(pl.String),
        dose_g=pl.col("dose_g").cast(pl.String),
        product=pl.lit(pl.Series(PRODUCTS)).gather(pl.col("product")),
        indication=_messy(pl.lit(pl.Series(texts)).gather(pl.col("text")), pl.col("messy")),
        diagnosis_code=pl.lit(pl.Series([*codes, ""])).gather(pl.col("code")),
        severity=pl.col("severity"), refractory=pl.col("refractory"), plasma_exchange=pl.col("plasma_exchange"),
        with_methylprednisolone=pl.col("with_methylprednisolone"),
        specialty=pl.col("specialty"),
        department=pl.when(pl.col("child")).then(pl.lit("Children's")).otherwise(pl.lit("Adult")),
        prescriber_id=pl.lit("P") + pl.col("prescriber").cast(pl.String).str.zfill(3),
        site=pl.col("site"),
    )
    cidp_patients = np.flatnonzero(history >= 0)
    assessments = _assessments(rng, history[cidp_patients], first_day[cidp_patients], span[cidp_patients],
                               patient_ids[cidp_patients], patient_site[cidp_patients])
    whole = cidp_patients[n_each[cidp_patients] >= order_range[cidp_patients, 0]]  # the last may be cut short
    truth = pl.DataFrame({"patient_id": patient_ids[whole], "site": patient_site[whole],
                          "history": np.array([h.label for h in CIDP_HISTORIES])[history[whole]],
                          "suspected": np.array([h.suspected for h in CIDP_HISTORIES])[history[whole]]})
    if shape == "mixed":
        orders, assessments = _mixed(rng, orders, assessments, conditions == "cidp")
        truth = truth.clear()  # the histories drawn are spread over other patients
    return Extracts(orders, assessments, truth)


def _mixed(rng: np.random.Generator, orders: pl.DataFrame, assessments: pl.DataFrame,
           cidp: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The orders dealt out to new patients, about MIXED_ORDERS_PER_PATIENT each at random dates,
    the CIDP orders among the first MIXED_CIDP_PATIENT_SHARE of them; each new patient takes age,
    sex, weight, height, department and site from one of their orders, and the outcome measures of
    a drawn CIDP patient go to the new patient of that patient's first order. Rows in date order."""
    n_orders = len(orders)
    n_patients = max(n_orders // MIXED_ORDERS_PER_PATIENT, 1)
    patient = np.where(cidp, rng.integers(0, max(int(n_patients * MIXED_CIDP_PATIENT_SHARE), 1), n_orders),
                       rng.integers(0, n_patients, n_orders))
    day = rng.integers(0, (END - START).days + 1, n_orders)
    order_date = np.datetime64(START) + day.astype("timedelta64[D]")
    dealt = orders.with_columns(
        new_patient=patient, drawn_patient_id=pl.col("patient_id"),
        order_date=pl.Series(order_date).cast(pl.String),
        start_date=pl.Series(order_date + rng.integers(0, 3, n_orders).astype("timedelta64[D]")).cast(pl.String))
    per_patient = ("age_years", "date_of_birth", "sex", "weight_kg", "height_cm", "department", "site")
    patients = dealt.group_by("new_patient").agg(pl.col(per_patient).first()).with_columns(
        patient_id=pl.lit("MRN") + (pl.col("new_patient") * 7919 % 9_999_991).cast(pl.String).str.zfill(7))
    mixed = (dealt.drop("patient_id", *per_patient).join(patients, on="new_patient")
             .sort("order_date", "order_id"))
    first_order = mixed.sort("order_id").group_by("drawn_patient_id").agg(pl.col("patient_id", "site").first())
    assessments = (assessments.join(first_order, left_on="patient_id", right_on="drawn_patient_id", suffix="_new")
                   .select(pl.col("patient_id_new").alias("patient_id"), "assessment_date", "measure", "value",
                           pl.col("site_new").alias("site"))
                   .sort("patient_id", "assessment_date", "measure"))
    return mixed.select(orders.columns), assessments


def _messy(text: pl.Expr, draw: pl.Expr) -> pl.Expr:
    """Text as typed: 8% in capitals, 4% in lower case behind two spaces."""
    return (pl.when(draw < 0.08).then(text.str.to_uppercase())
            .when((draw > 0.08) & (draw < 0.12)).then(pl.lit("  ") + text.str.to_lowercase())
            .otherwise(text))


def _dosing_weight(weight: np.ndarray, height: np.ndarray, female: np.ndarray, child: np.ndarray) -> np.ndarray:
    """The weight prescribers dose on: adjusted weight for obese adults, by the rules the audit
    applies (guideline/treatment/courses.yaml)."""
    rules = load_treatment()["courses"]["dosing_weight"]
    ideal = (np.where(female, rules["ibw_base_kg"]["female"], rules["ibw_base_kg"]["male"])
             + rules["ibw_kg_per_inch_over_60"] * (height / 2.54 - 60))
    obese = ((weight / (height / 100) ** 2 > rules["adjusted_when_bmi_above"])
             | (weight > rules["adjusted_when_actual_over_ibw_ratio_above"] * ideal))
    adjusted = ~child & (height >= rules["actual_when_height_below_cm"]) & obese
    return np.where(adjusted, ideal + rules["adjusted_fraction"] * (weight - ideal), weight)


def _assessments(rng: np.random.Generator, history: np.ndarray, first_day: np.ndarray, span: np.ndarray,
                 patient_ids: np.ndarray, site: np.ndarray) -> pl.DataFrame:
    """INCAT for every reviewed CIDP patient (MRC sum for half): a baseline up to 2 weeks before the
    first course, then about every 90 days; improving patients gain 1 INCAT and 3 MRC points a visit
    (up to 2), the others stay level."""
    reviews = np.array([h.reviews for h in CIDP_HISTORIES])[history]
    horizon = np.where(reviews == "first_months", np.minimum(span, 150), span + 20)
    visits = np.where(reviews == "none", 0, horizon // 90 + 2)
    who = np.repeat(np.arange(len(history)), visits)
    visit = np.arange(len(who)) - np.repeat(np.cumsum(visits) - visits, visits)
    day = np.where(visit == 0, -rng.integers(0, 15, len(who)), visit * 90 + rng.integers(-10, 11, len(who)))
    keep = (visit == 0) | (day <= horizon[who])
    who, visit, day = who[keep], visit[keep], day[keep]
    improves = np.array([h.improves for h in CIDP_HISTORIES])[history][who]
    gain = np.where(improves, np.minimum(visit, 2), 0)
    incat = rng.integers(3, 9, len(history))[who] - gain
    mrc = rng.integers(38, 53, len(history))[who] + 3 * gain
    with_mrc = (np.arange(len(history)) % 2 == 0)[who]
    date_text = (np.datetime64(START) + (first_day[who] + day).astype("timedelta64[D]")).astype(str)
    frames = [pl.DataFrame({"patient_id": patient_ids[who][rows], "assessment_date": date_text[rows],
                            "measure": measure, "value": values[rows].astype(str), "site": site[who][rows]})
              for measure, values, rows in (("INCAT", incat, slice(None)), ("MRC_SUM", mrc, with_mrc))]
    return pl.concat(frames).sort("patient_id", "assessment_date", "measure")


def update_extract(orders: pl.DataFrame, seed: int = 2012) -> pl.DataFrame:
    """A later extract as a pharmacy system sends it: 200 orders again as they were (unchanged),
    40 corrected (5 g more), and 12 new orders typed wrongly (no weight, dose "see chart", an order
    date in the future, a weight of 700 kg), which the checks quarantine."""
    sample = orders.sample(n=min(len(orders), 252), seed=seed, shuffle=True)
    errors = pl.int_range(pl.len()) // 3
    broken = sample.slice(240, 12).with_columns(
        order_id=pl.lit("UPD") + pl.int_range(pl.len()).cast(pl.String).str.zfill(5),
        weight_kg=pl.when(errors == 0).then(pl.lit("")).when(errors == 3).then(pl.lit("700"))
        .otherwise(pl.col("weight_kg")),
        dose_g=pl.when(errors == 1).then(pl.lit("see chart")).otherwise(pl.col("dose_g")),
        order_date=pl.when(errors == 2).then(pl.lit("2031-01-15")).otherwise(pl.col("order_date")))
    corrected = sample.slice(200, 40).with_columns(
        dose_g=(pl.col("dose_g").cast(pl.Float64) + 5).cast(pl.String))
    return pl.concat([sample.slice(0, 200), corrected, broken])


class Extracts(NamedTuple):
    orders: pl.DataFrame
    assessments: pl.DataFrame
    cidp_truth: pl.DataFrame  # per whole CIDP history: the one drawn and the verdict it should get; not written


class ExtractFiles(NamedTuple):
    orders: Path
    assessments: Path


def write_extracts(n_orders: int, out_dir: Path, seed: int = 2012, profile: SiteProfile | None = None,
                   shape: str = "standard") -> ExtractFiles:
    """Write an orders extract and the matching assessments extract as CSV: in the standard formats,
    or as the site that `profile` describes sends them (see in_site_format); named with the site
    and with the shape unless standard."""
    out_dir.mkdir(parents=True, exist_ok=True)
    extracts = generate(n_orders, seed, shape)
    suffix = (f"_{profile.site}" if profile else "") + ("" if shape == "standard" else f"_{shape}")
    files = ExtractFiles(out_dir / f"orders_{n_orders}_seed{seed}{suffix}.csv",
                         out_dir / f"assessments_{n_orders}_seed{seed}{suffix}.csv")
    for frame, path in zip((extracts.orders, extracts.assessments), files):
        if profile:
            text = in_site_format(frame, profile).write_csv(separator=profile.delimiter or ",")
            path.write_bytes(text.encode("utf-8" if profile.encoding == "auto" else profile.encoding))
        else:
            frame.write_csv(path)
    return files


def in_site_format(frame: pl.DataFrame, profile: SiteProfile) -> pl.DataFrame:
    """A standard extract (all text) as the site's system would write it: the profile's headers,
    units, first date format, decimal comma and first yes/no spellings. The site column is left
    out unless the profile names one (the profile's site code stands for it)."""
    factors = {"dose_g": DOSE_TO_G[profile.units["dose"]], "weight_kg": WEIGHT_TO_KG[profile.units["weight"]],
               "height_cm": HEIGHT_TO_CM[profile.units["height"]]}
    columns, frame = [], frame.cast(pl.String)  # an empty extract's columns have no type
    for name in frame.columns:
        column = pl.when(pl.col(name) != "").then(pl.col(name))  # blank: null, written blank
        if name in factors:
            column = (column.cast(pl.Float64) / factors[name]).round(2).cast(pl.String)
        if name in ("age_years", "weight_kg", "height_cm", "dose_g", "value") and profile.decimal_comma:
            column = column.str.replace(".", ",", literal=True)
        if name in ("order_date", "start_date", "date_of_birth", "assessment_date"):
            column = column.str.to_date("%Y-%m-%d").dt.strftime(profile.date_formats[0])
        if name in ("refractory", "plasma_exchange", "with_methylprednisolone"):
            column = column.replace({"Y": profile.yes_values[0], "N": profile.no_values[0]})
        if name != "site" or "site" in profile.columns:
            columns.append(column.alias(profile.columns.get(name, name)))
    return frame.select(columns)
