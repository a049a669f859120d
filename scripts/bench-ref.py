#!/usr/bin/python3
"""bench-ref.py - the scikit-learn reference for scripts/bench.

  bench-ref.py train TRAIN.csv TEST.csv MODEL.pkl SCORES.csv
      read TRAIN.csv with pandas, one-hot encode it, fit
      RandomForestClassifier(n_estimators=100, n_jobs=-1), pickle the model
      (and its columns) to MODEL.pkl, write the churn probability of every
      row of TEST.csv to SCORES.csv (customerID,churn_probability).
      scripts/bench times this whole process, CSV reading included.
  bench-ref.py auc TEST.csv SCORES.csv
      print sklearn.metrics.roc_auc_score of SCORES.csv (churn-predict's
      output or ours; rows matched by customerID) against TEST.csv's labels.
  bench-ref.py score MODEL.pkl DATA.csv
      encode DATA.csv, then time predict_proba alone on the encoded matrix;
      print "ROWS SECONDS".
  bench-ref.py fit LEARNER TRAIN.csv TEST.csv
      (the training rows of scripts/bench) encode TRAIN.csv as `train`
      does and time LEARNER's .fit alone on the matrix: rf
      (RandomForestClassifier(n_estimators=100, n_jobs=-1)), hgb
      (HistGradientBoostingClassifier()) or xgb (XGBoost's XGBClassifier,
      tree_method hist, 100 rounds); print "WALL CPU AUC" (seconds of the
      fit, wall and process CPU; ROC-AUC on TEST.csv), or "n/a" when the
      learner's package is not installed.

Run by scripts/bench; needs python3-sklearn and python3-pandas
(scripts/install-deps --bench).
"""
import pickle
import sys
import time

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

TARGET = "Churn"
ID = "customerID"


def encode(df, columns=None):
    """One-hot encode a Telco frame the usual way; align to columns."""
    x = df.drop(columns=[c for c in (ID, TARGET) if c in df.columns])
    for c in ("TotalCharges", "MonthlyCharges", "tenure"):
        if c in x.columns:
            x[c] = pd.to_numeric(x[c], errors="coerce").fillna(0.0)
    x = pd.get_dummies(x, dtype="float32")
    if columns is not None:
        x = x.reindex(columns=columns, fill_value=0.0)
    return x


def labels(df):
    return (df[TARGET].astype(str).str.strip() == "Yes").astype(int)


def train(train_csv, test_csv, model_pkl, scores_csv):
    tr = pd.read_csv(train_csv, dtype={ID: str})
    x = encode(tr)
    rf = RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0)
    rf.fit(x.to_numpy(), labels(tr))
    with open(model_pkl, "wb") as f:
        pickle.dump((rf, list(x.columns)), f)
    te = pd.read_csv(test_csv, dtype={ID: str})
    p = rf.predict_proba(encode(te, list(x.columns)).to_numpy())[:, 1]
    pd.DataFrame({ID: te[ID], "churn_probability": p}).to_csv(
        scores_csv, index=False)


def auc(test_csv, scores_csv):
    te = pd.read_csv(test_csv, dtype={ID: str})
    sc = pd.read_csv(scores_csv, dtype={ID: str})
    m = te[[ID, TARGET]].merge(sc[[ID, "churn_probability"]], on=ID)
    if len(m) != len(te):
        sys.exit("bench-ref.py: %s: %d of %d test rows scored"
                 % (scores_csv, len(m), len(te)))
    print("%.4f" % roc_auc_score(labels(m), m["churn_probability"]))


def score(model_pkl, data_csv):
    with open(model_pkl, "rb") as f:
        rf, columns = pickle.load(f)
    x = encode(pd.read_csv(data_csv, dtype={ID: str}), columns).to_numpy()
    t = time.perf_counter()
    rf.predict_proba(x)
    print("%d %.3f" % (x.shape[0], time.perf_counter() - t))


def fit(learner, train_csv, test_csv):
    if learner == "rf":
        model = RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0)
    elif learner == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier
        model = HistGradientBoostingClassifier(random_state=0)
    elif learner == "xgb":
        try:
            from xgboost import XGBClassifier
        except ImportError:
            print("n/a")
            return
        model = XGBClassifier(n_estimators=100, tree_method="hist", n_jobs=-1,
                              random_state=0)
    else:
        sys.exit("bench-ref.py: fit: no learner '%s' (rf, hgb, xgb)" % learner)
    tr = pd.read_csv(train_csv, dtype={ID: str})
    x = encode(tr)
    y = labels(tr).to_numpy()
    xa = x.to_numpy()
    c0, t0 = time.process_time(), time.perf_counter()
    model.fit(xa, y)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    te = pd.read_csv(test_csv, dtype={ID: str})
    p = model.predict_proba(encode(te, list(x.columns)).to_numpy())[:, 1]
    print("%.3f %.3f %.4f" % (wall, cpu, roc_auc_score(labels(te), p)))


def main():
    cmds = {"train": (train, 4), "auc": (auc, 2), "score": (score, 2),
            "fit": (fit, 3)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds \
            or len(sys.argv) - 2 != cmds[sys.argv[1]][1]:
        sys.stderr.write(__doc__)
        sys.exit(2)
    fn, _ = cmds[sys.argv[1]]
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
