#!/usr/bin/python3
"""bench-serve-ref.py - the reference stack churn-serve replaces, for
scripts/bench-serve: a FastAPI app on uvicorn serving a scikit-learn
RandomForestClassifier(n_estimators=100, n_jobs=-1) trained on DATA.csv.

  bench-serve-ref.py DATA.csv PORT

Routes: GET /health -> {"status":"ok"}; POST /predict with one customer as
a JSON object -> {"churn_probability": p, "churn": bool}.  One uvicorn
worker on 127.0.0.1:PORT, access log off.  Needs python3-fastapi,
python3-uvicorn, python3-sklearn, python3-pandas (scripts/install-deps
--bench).
"""
import sys

import pandas as pd
import uvicorn
from fastapi import FastAPI, Request
from sklearn.ensemble import RandomForestClassifier

TARGET = "Churn"
ID = "customerID"


def encode(df, columns=None):
    df = df.drop(columns=[c for c in (ID, TARGET) if c in df.columns])
    if "TotalCharges" in df.columns:
        df["TotalCharges"] = pd.to_numeric(df["TotalCharges"], errors="coerce")
    x = pd.get_dummies(df).fillna(0)
    if columns is not None:
        x = x.reindex(columns=columns, fill_value=0)
    return x


def main():
    data, port = sys.argv[1], int(sys.argv[2])
    df = pd.read_csv(data)
    y = (df[TARGET].astype(str).isin(["Yes", "1", "true", "True"])).astype(int)
    x = encode(df)
    columns = list(x.columns)
    model = RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=42)
    model.fit(x, y)
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request):
        row = await request.json()
        p = float(model.predict_proba(encode(pd.DataFrame([row]), columns))[0, 1])
        return {"churn_probability": p, "churn": p >= 0.5}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
