#!/usr/bin/python3
"""bench-drift-ref.py REPORT DATA.csv

The pandas + NumPy counterpart of churn-drift, for scripts/bench-drift:
reads the same CSV with pandas.read_csv, bins every numeric feature with
the edges of churn-drift's report (np.searchsorted: bin i holds
edges[i-1] < v <= edges[i]), counts categories with value_counts, and
computes PSI (shares floored at 1e-4 on both sides) and L1 against the
report's reference shares.  Prints one line:
  read_s total_s rows max_abs_difference_from_the_report features
"""
import json
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FLOOR = 1e-4


def main():
    rep = json.load(open(sys.argv[1]))
    t1 = time.perf_counter()
    df = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
    t2 = time.perf_counter()
    n = len(df)
    worst = 0.0
    for f in rep["features"]:
        col = df[f["name"]]
        stripped = col.str.strip()
        miss = stripped.isin(["", "NA", "NaN", "?"]).to_numpy()
        bins = f["bins"]
        ref = np.array([b["ref"] for b in bins])
        if f["type"] == "numeric":
            edges = np.array(f["edges"], dtype=float)
            v = pd.to_numeric(col[~miss]).to_numpy(dtype=float)
            counts = np.bincount(np.searchsorted(edges, v, side="left"),
                                 minlength=len(edges) + 1).astype(float)
            if bins[-1]["label"] == "missing":
                counts = np.append(counts, miss.sum())
            cur = counts / n
            r = np.maximum(ref, FLOOR)
            c = np.maximum(cur, FLOOR)
            value = float(np.sum((c - r) * np.log(c / r)))
        else:
            vc = col[~miss].value_counts()
            labels = [b["label"] for b in bins]
            cur = np.array([float(vc.get(x, 0)) for x in labels])
            if labels and labels[-1] == "missing":
                cur[-1] = miss.sum()
            cur = cur / n
            # categories the report does not list (none for a full report)
            extra = (n - miss.sum() - sum(vc.get(x, 0) for x in labels)) / n
            value = float(np.abs(cur - ref).sum() + extra)
        worst = max(worst, abs(value - f["value"]))
    t3 = time.perf_counter()
    print("%.3f %.3f %d %.3g %d" % (t2 - t1, t3 - t0, n, worst,
                                    len(rep["features"])))


main()
