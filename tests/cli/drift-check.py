#!/usr/bin/python3
"""drift-check.py REPORT CURRENT.csv [REFERENCE.csv]

Checks a churn-drift report against itself and against the data, for the
shell tests: every PSI and L1 value equals the one recomputed from the
report's own shares (to 1e-9); shares sum to 1 and equal the counts over
their totals; the counts equal those recomputed from the CSV files with the
reported edges (current always, reference when given).  Prints what
differs and exits 1.
"""
import bisect
import csv
import json
import math
import sys

FLOOR = 1e-4


def missing(s):
    return s.strip() in ("", "NA", "NaN", "?")


def value(v):
    if v["metric"] == "psi":
        tot = 0.0
        for b in v["bins"]:
            r = max(b["ref"], FLOOR)
            c = max(b["cur"], FLOOR)
            tot += (c - r) * math.log(c / r)
        return tot
    return sum(abs(b["cur"] - b["ref"]) for b in v["bins"])


def counts(path, v):
    """counts by bin label of feature v in the CSV at path"""
    got = {}
    name = v["name"]
    edges = v.get("edges")
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            s = row[name]
            if missing(s):
                label = "missing"
            elif edges is not None:
                i = bisect.bisect_left(edges, float(s))
                label = i
            else:
                label = s
            got[label] = got.get(label, 0) + 1
    return got


def main():
    rep = json.load(open(sys.argv[1]))
    cur = sys.argv[2] if len(sys.argv) > 2 else None
    ref = sys.argv[3] if len(sys.argv) > 3 else None
    bad = []
    allv = list(rep["features"])
    if "prediction" in rep:
        allv.append(rep["prediction"])
    for v in allv:
        n = v["name"]
        x = value(v)
        if abs(x - v["value"]) > 1e-9:
            bad.append("%s: value %r, recomputed %r" % (n, v["value"], x))
        for side in ("ref", "cur"):
            tot = sum(b[side + "_count"] for b in v["bins"])
            if abs(sum(b[side] for b in v["bins"]) - 1) > 1e-9:
                bad.append("%s: %s shares do not sum to 1" % (n, side))
            for b in v["bins"]:
                if abs(b[side] - b[side + "_count"] / tot) > 1e-12:
                    bad.append("%s: bin %s: %s share %r is not %d/%d" %
                               (n, b["label"], side, b[side],
                                b[side + "_count"], tot))
        st = "drift" if v["value"] >= v["threshold"] else \
            "warn" if v["value"] >= v["warn"] else "ok"
        if st != v["status"]:
            bad.append("%s: status %s, not %s" % (n, v["status"], st))
        if n == "churn_probability":
            continue
        for path, side in ((cur, "cur"), (ref, "ref")):
            if path is None:
                continue
            got = counts(path, v)
            want = {}
            for i, b in enumerate(v["bins"]):
                key = b["label"]
                if v.get("edges") is not None and key != "missing":
                    key = i
                want[key] = b[side + "_count"]
            for k in set(got) | set(want):
                if got.get(k, 0) != want.get(k, 0):
                    bad.append("%s: %s: bin %r: report %d, data %d" %
                               (n, path, k, want.get(k, 0), got.get(k, 0)))
    k = sum(1 for v in rep["features"] if v["status"] == "drift")
    if k != rep["drifted"] or len(rep["features"]) != rep["checked"]:
        bad.append("drifted/checked do not match the features")
    for b in bad[:20]:
        print(b)
    sys.exit(1 if bad else 0)


main()
