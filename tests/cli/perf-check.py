# perf-check.py STORE PERF_JSON HORIZON_DAYS: recomputes churn-models perf
# from the raw objects in a file:// store by another code path (a join of
# its own, scikit-learn's metrics) and compares, to 1e-9.
import glob, json, math, sys
from datetime import datetime, timezone
from sklearn.metrics import roc_auc_score, average_precision_score

store, perf, horizon = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])

def ts(s):
    if len(s) == 10:
        s += "T00:00:00Z"
    return int(datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())

preds = {}
for f in sorted(glob.glob(store + "/predictions/*/*.jsonl")):
    for line in open(f):
        r = json.loads(line)
        preds.setdefault(r["id"], []).append((ts(r["time"]), r["model_version"], r["probability"]))
outcomes = {}
for f in sorted(glob.glob(store + "/outcomes/*.jsonl")):
    for line in open(f):
        r = json.loads(line)
        outcomes.setdefault((r["id"], ts(r["time"])), r["outcome"])

joined = {}
for (cid, t), y in outcomes.items():
    cands = [p for p in preds.get(cid, []) if t - horizon * 86400 <= p[0] <= t]
    if not cands:
        continue
    pt, v, p = max(cands)   # the latest (times within one id differ here)
    joined.setdefault(v, []).append((p, y))

assert perf["outcomes"] == len(outcomes), (perf["outcomes"], len(outcomes))
assert perf["joined"] == sum(map(len, joined.values())), perf["joined"]
got = {v["model_version"]: v for v in perf["versions"]}
assert sorted(got) == sorted(joined), (sorted(got), sorted(joined))
for v, rows in sorted(joined.items()):
    p = [r[0] for r in rows]
    y = [r[1] for r in rows]
    thr = json.load(open(f"{store}/models/{v}/manifest.json"))["metrics"]["threshold"]
    a = got[v]["all"]
    want = {
        "rows": len(rows),
        "positives": sum(y),
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "log_loss": -sum(math.log(min(max(q, 1e-15), 1 - 1e-15)) if t else
                         math.log(1 - min(max(q, 1e-15), 1 - 1e-15)) for q, t in zip(p, y)) / len(y),
        "brier": sum((q - t) ** 2 for q, t in zip(p, y)) / len(y),
    }
    for k, w in want.items():
        assert abs(a[k] - w) <= 1e-9, (v, k, a[k], w)
    c = a["confusion"]
    tp = sum(1 for q, t in zip(p, y) if q >= thr and t)
    fp = sum(1 for q, t in zip(p, y) if q >= thr and not t)
    assert (c["tp"], c["fp"]) == (tp, fp), (v, c, tp, fp)
    cal = a["calibration"]
    assert sum(b["rows"] for b in cal) == len(rows)
    for b in cal:
        inb = [(q, t) for q, t in zip(p, y) if b["lo"] <= q < b["hi"] or (b["hi"] == 1.0 and q == 1.0)]
        assert b["rows"] == len(inb), (v, b, len(inb))
    print(f"{v}: {len(rows)} rows, ROC-AUC {a['roc_auc']:.12f} (scikit-learn {want['roc_auc']:.12f})")
