"""The paper's claims, each answered by measured runs: its evidence, the kit's numbers and a verdict.

A *cell* is one experiment of the grid (dataset or mix, tasks, recipe, backbone) scored at one
age-group scheme on one source's validation faces. The replication trains some cells more than
once with other train seeds (same faces, other initial weights, shuffling and augmentation), so
a cell's accuracy has two kinds of noise: the training's (the spread across seeds) and the
validation sample's (the bootstrap interval of each run). :func:`cell_estimates` combines them
into one 95 % interval: ``mean ± sqrt(t² + b²)``, with ``t`` the half-width of the Student
interval of the seeds' mean (0 for one seed) and ``b`` the runs' mean bootstrap half-width.

A comparison "A above B" *holds* when A's interval lies wholly above B's, is *contradicted* when
it lies wholly below, and is *not shown (within noise)* otherwise; "A about equal to B" holds when
the intervals overlap and is contradicted when they do not. A claim holds when every comparison
behind it holds, is contradicted when any is, and is not shown otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .paper_figures import accuracy_cells

HOLDS, NOT_SHOWN, CONTRADICTED, MISSING = "holds", "not shown (within noise)", "contradicted", "not measured yet"
#: The backbone claim's verdict: it cannot hold on the paper's evidence (B4 against itself), and the runs that
#: would test it (the true B4-B7) are beyond two CPU cores, so it is neither within noise nor measured.
NOT_TRAINED = "not shown (B4-B7 not trained here)"
SCHEMES = ("3", "5", "10")
CELL = ("kind", "dataset", "tasks", "recipe", "backbone", "scheme", "on")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and where the paper shows it."""

    key: str
    text: str
    evidence: str


CLAIMS = (
    Claim("granularity", "Finer age groups lower the accuracy (3 > 5 > 10 groups)",
          "Figures 4 and 6: every line falls from 3 to 5 to 10 groups"),
    Claim("utkface_race_helps", "On UTKFace, age + gender + race beats age alone",
          "Figure 6 and the headline table (best at three tasks)"),
    Claim("utkface_gender_hurts", "On UTKFace, age alone beats age + gender",
          "Figure 6: age + gender is the lowest UTKFace line"),
    Claim("wiki_gender_neutral", "On IMDB-WIKI, age + gender performs about as age alone",
          "Figure 4: the two wiki lines nearly coincide"),
    Claim("utkface_beats_wiki", "UTKFace gives higher age accuracy than IMDB-WIKI on the same tasks",
          "Figure 7"),
    Claim("mix_worst", "The multi-source mix (wiki age + gender, UTKFace race) performs worst",
          "Figure 9, at 3 groups"),
    Claim("backbones_alike", "EfficientNet B4-B7 perform alike",
          "Figures 4 and 6; but the seed's notebooks built B4 under the names B5, B6 and B7"),
)


def cell_estimates(results: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: ``n`` runs (seeds), ``accuracy`` (their mean), ``seed_sd``, the mean bootstrap
    half-width ``boot_half`` and the combined 95 % interval ``low``-``high`` (see the module's text)."""
    from scipy import stats

    cells = accuracy_cells(results)
    rows = []
    for key, part in cells.groupby(list(CELL), sort=False):
        values = part["accuracy"].to_numpy(float)
        n = len(values)
        sd = float(values.std(ddof=1)) if n > 1 else 0.0
        t_half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else 0.0
        halves = ((part["high"] - part["low"]) / 2).to_numpy(float)
        boot_half = float(np.nanmean(halves)) if np.isfinite(halves).any() else 0.0
        half = float(np.hypot(t_half, boot_half))
        mean = float(values.mean())
        rows.append({**dict(zip(CELL, key)), "n": n, "accuracy": mean, "seed_sd": sd, "boot_half": boot_half,
                     "low": mean - half, "high": mean + half, "trained": bool(part["trained"].all()),
                     "runs": ", ".join(part["run"])})
    return pd.DataFrame(rows, columns=[*CELL, "n", "accuracy", "seed_sd", "boot_half", "low", "high", "trained",
                                       "runs"])


def verdict(a: pd.Series | None, b: pd.Series | None, relation: str = ">") -> str:
    """Whether cell ``a`` is above (``>``), below (``<``) or about equal to (``~``) cell ``b``."""
    if a is None or b is None:
        return MISSING
    if relation == "<":
        return verdict(b, a, ">")
    apart_above, apart_below = a["low"] > b["high"], a["high"] < b["low"]
    if relation == "~":
        return HOLDS if not (apart_above or apart_below) else CONTRADICTED
    return HOLDS if apart_above else CONTRADICTED if apart_below else NOT_SHOWN


def comparisons(results: pd.DataFrame, *, recipe: str = "kit", backbone: str = "b0") -> pd.DataFrame:
    """Every comparison behind :data:`CLAIMS`, one row each: the claim, the scheme, both cells with
    their accuracy, interval and number of seeds, the relation tested and its verdict. ``recipe`` and
    ``backbone`` choose the runs that answer the task, dataset and mix claims."""
    est = cell_estimates(results)
    own = est[(est["on"] == est["dataset"]) | (est["kind"] == "multi")]

    def cell(dataset, tasks, scheme, *, on=None, rec=recipe, bb=backbone):
        rows = est[(est["dataset"] == dataset) & (est["tasks"] == tasks) & (est["recipe"] == rec)
                   & (est["backbone"] == bb) & (est["scheme"] == scheme) & (est["on"] == (on or dataset))]
        return rows.iloc[0] if len(rows) else None

    rows = []

    def add(claim, scheme, a_name, a, relation, b_name, b):
        rows.append({"claim": claim, "scheme": scheme, "a": a_name, "relation": relation, "b": b_name,
                     **_side("a", a), **_side("b", b), "verdict": verdict(a, b, relation)})

    three = "age+gender+race"
    singles = own[(own["kind"] == "single") & (own["recipe"] == recipe) & (own["backbone"] == backbone)]
    for (dataset, tasks), _ in singles.groupby(["dataset", "tasks"], sort=False):
        for finer, coarser in (("5", "3"), ("10", "5")):
            add("granularity", f"{coarser} vs {finer}", f"{dataset} {tasks}, {coarser} groups",
                cell(dataset, tasks, coarser), ">", f"{finer} groups", cell(dataset, tasks, finer))
    for scheme in SCHEMES:
        add("utkface_race_helps", scheme, f"utkface {three}", cell("utkface", three, scheme), ">", "utkface age",
            cell("utkface", "age", scheme))
        add("utkface_gender_hurts", scheme, "utkface age", cell("utkface", "age", scheme), ">",
            "utkface age+gender", cell("utkface", "age+gender", scheme))
        add("wiki_gender_neutral", scheme, "wiki age+gender", cell("wiki", "age+gender", scheme), "~", "wiki age",
            cell("wiki", "age", scheme))
        for tasks in ("age", "age+gender"):
            add("utkface_beats_wiki", scheme, f"utkface {tasks}", cell("utkface", tasks, scheme), ">",
                f"wiki {tasks}", cell("wiki", tasks, scheme))
        mix = cell("mix-paper", three, scheme, on="wiki")
        add("mix_worst", scheme, "paper's mix, on wiki faces (where it learns age)", mix, "<", "wiki age+gender",
            cell("wiki", "age+gender", scheme))
        add("mix_worst", scheme, "paper's mix, on UTKFace faces (age never taught there)",
            cell("mix-paper", three, scheme, on="utkface"), "<", f"utkface {three}", cell("utkface", three, scheme))
    head = est[(est["kind"] == "single") & (est["dataset"] == "utkface") & (est["tasks"] == three)
               & (est["recipe"] == recipe) & (est["on"] == "utkface")]
    backbones = sorted(set(head["backbone"]), key=lambda b: int(b[1:]) if b[1:].isdigit() else 99)
    for scheme in SCHEMES:
        for other in backbones[1:]:
            add("backbones_alike", scheme, f"utkface {three} {other.upper()}", cell("utkface", three, scheme, bb=other),
                "~", backbones[0].upper(), cell("utkface", three, scheme, bb=backbones[0]))
    table = pd.DataFrame(rows)
    if len(table):  # grouped by claim, in the order of CLAIMS
        order = {claim.key: i for i, claim in enumerate(CLAIMS)}
        table = table.sort_values("claim", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    return table


def claims_table(results: pd.DataFrame, *, recipe: str = "kit", backbone: str = "b0") -> pd.DataFrame:
    """One row per claim of :data:`CLAIMS`: the paper's evidence, the kit's measurement (each comparison
    with its 95 % intervals and seeds), the verdict and why."""
    table = comparisons(results, recipe=recipe, backbone=backbone)
    rows = []
    for claim in CLAIMS:
        part = table[table["claim"] == claim.key] if len(table) else table
        measured = part[part["verdict"] != MISSING] if len(part) else part
        if claim.key == "backbones_alike":
            verdict_, why = _backbone_verdict(measured)
        elif not len(measured):
            verdict_, why = MISSING, "the runs behind it have not finished"
        else:
            counts = measured["verdict"].value_counts()
            verdict_ = (CONTRADICTED if counts.get(CONTRADICTED, 0) else HOLDS if counts.get(HOLDS, 0) == len(measured)
                        else NOT_SHOWN)
            why = ", ".join(f"{n} of {len(measured)} comparisons: {v}" for v, n in counts.items())
            if set(part["relation"]) == {"~"} and verdict_ == HOLDS:
                width = float((measured[["a_high", "b_high"]].to_numpy() - measured[["a_low", "b_low"]].to_numpy()).max())
                why += (f" (\"about equal\" holds when no difference is measured: the intervals overlap; they are up "
                        f"to {width:.2f} wide, so only a larger difference would have shown)")
            if len(measured) < len(part):
                why += f"; {len(part) - len(measured)} not measured yet"
        rows.append({"claim": claim.text, "paper's evidence": claim.evidence,
                     "kit's measurement": "; ".join(_describe(r) for _, r in measured.iterrows()),
                     "verdict": verdict_, "why": why})
    return pd.DataFrame(rows)


EVIDENCE_COLUMNS = ("scheme", "a", "a_accuracy", "a_low", "a_high", "a_n", "relation", "b", "b_accuracy", "b_low",
                    "b_high", "b_n", "verdict")


def claim_evidence(results: pd.DataFrame, claims, *, recipe: str = "kit", backbone: str = "b0") -> pd.DataFrame:
    """The comparisons behind the named claims (keys of :data:`CLAIMS`, e.g. ``["wiki_gender_neutral"]``),
    one row each, indexed by claim: both cells' accuracy (mean over seeds), 95 % interval and seeds,
    the relation tested and its verdict. For a chapter that answers one of the paper's claims from a
    replication's ``results``; an unknown key is a ValueError naming the known ones."""
    names = [claims] if isinstance(claims, str) else list(claims)
    known = [c.key for c in CLAIMS]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown claim {unknown[0]!r}; choose from {', '.join(known)}")
    table = comparisons(results, recipe=recipe, backbone=backbone)
    if not len(table):
        return pd.DataFrame(columns=list(EVIDENCE_COLUMNS), index=pd.Index([], name="claim"))
    table = table[table["claim"].isin(names)]
    return table.set_index("claim")[list(EVIDENCE_COLUMNS)]


# --- private details -------------------------------------------------------------------------


def _side(prefix: str, row: pd.Series | None) -> dict:
    if row is None:
        return {f"{prefix}_accuracy": np.nan, f"{prefix}_low": np.nan, f"{prefix}_high": np.nan, f"{prefix}_n": 0}
    return {f"{prefix}_accuracy": row["accuracy"], f"{prefix}_low": row["low"], f"{prefix}_high": row["high"],
            f"{prefix}_n": int(row["n"])}


def _describe(r: pd.Series) -> str:
    def side(p):
        return f"{r[f'{p}_accuracy']:.3f} [{r[f'{p}_low']:.3f}, {r[f'{p}_high']:.3f}] ({r[f'{p}_n']} seed" + \
            ("s)" if r[f"{p}_n"] != 1 else ")")

    sign = {">": ">", "<": "<", "~": "≈"}[r["relation"]]
    scheme = r["scheme"] if " vs " in r["scheme"] else f"{r['scheme']} groups"
    return f"{scheme}: {r['a']} {side('a')} {sign} {r['b']} {side('b')}: {r['verdict']}"


def _backbone_verdict(measured: pd.DataFrame) -> tuple[str, str]:
    why = ("the paper's evidence compares B4 with itself (its B5-B7 were B4s), and B4-B7 are not trained on two "
           "CPU cores; ")
    if not len(measured):
        return NOT_TRAINED, why + "no second backbone measured yet"
    differ = int((measured["verdict"] == CONTRADICTED).sum())
    return NOT_TRAINED, why + (f"among the smaller true backbones, {differ} of {len(measured)} comparisons with B0 "
                             "differ beyond the intervals")
