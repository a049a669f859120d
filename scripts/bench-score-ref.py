#!/usr/bin/python3
"""bench-score-ref.py - the scoring references of scripts/bench.

  bench-score-ref.py sk MODEL.pkl DATA.csv
      bench-ref.py's forest (RandomForestClassifier(n_estimators=100,
      n_jobs=-1), pickled by `bench-ref.py train`): encode DATA.csv, then
      time predict_proba alone on the encoded matrix.
  bench-score-ref.py xgb TRAIN.csv DATA.csv
      encode TRAIN.csv as bench-ref.py does, fit XGBClassifier(
      n_estimators=100, tree_method="hist", n_jobs=-1), encode DATA.csv
      to the same columns, then time predict_proba alone.

Each prints "ROWS WALL CPU": the best of 3 runs, wall seconds and the
process's CPU seconds (every thread).  Exit 3 when the library cannot be
imported.  Run by scripts/bench's scoring block (scripts/install-deps
--bench installs scikit-learn, pandas and python3-xgboost).
"""
import importlib.util
import os
import pickle
import sys
import time


def ref():
    """bench-ref.py, for its encoding."""
    spec = importlib.util.spec_from_file_location(
        "bench_ref", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                  "bench-ref.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(fn, x):
    best = None
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        fn(x)
        w, c = time.perf_counter() - w, time.process_time() - c
        if best is None or w < best[0]:
            best = (w, c)
    print("%d %.3f %.3f" % (x.shape[0], best[0], best[1]))


def sk(model_pkl, data_csv):
    try:
        import pandas as pd
        import sklearn  # noqa: F401 (the pickle needs it)
    except ImportError:
        sys.exit(3)
    r = ref()
    with open(model_pkl, "rb") as f:
        rf, columns = pickle.load(f)
    x = r.encode(pd.read_csv(data_csv, dtype={r.ID: str}), columns).to_numpy()
    timed(rf.predict_proba, x)


def xgb(train_csv, data_csv):
    try:
        import pandas as pd
        import xgboost
    except ImportError:
        sys.exit(3)
    r = ref()
    tr = pd.read_csv(train_csv, dtype={r.ID: str})
    x = r.encode(tr)
    m = xgboost.XGBClassifier(n_estimators=100, tree_method="hist",
                              n_jobs=-1, random_state=0)
    m.fit(x.to_numpy(), r.labels(tr))
    d = r.encode(pd.read_csv(data_csv, dtype={r.ID: str}),
                 list(x.columns)).to_numpy()
    timed(m.predict_proba, d)


def main():
    cmds = {"sk": sk, "xgb": xgb}
    if len(sys.argv) != 4 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
