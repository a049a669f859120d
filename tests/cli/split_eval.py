"""split_eval.py - an evaluator independent of churn's code (stdlib only).

  split_eval.py split DATA.csv SEED TRAIN.csv TEST.csv   stratified 80/20 split
  split_eval.py auc TEST.csv SCORES.csv                  ROC-AUC of churn-predict's output
"""
import csv
import random
import sys


def split(data, seed, train, test):
    with open(data, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    t = head.index("Churn")
    rng = random.Random(int(seed))
    out_train, out_test = [], []
    for label in sorted({r[t] for r in body}):
        group = [r for r in body if r[t] == label]
        rng.shuffle(group)
        k = round(0.2 * len(group))
        out_test += group[:k]
        out_train += group[k:]
    for path, part in ((train, out_train), (test, out_test)):
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(head)
            w.writerows(part)


def auc(test, scores):
    with open(test, newline="") as f:
        r = csv.DictReader(f)
        y = {row["customerID"]: row["Churn"] == "Yes" for row in r}
    with open(scores, newline="") as f:
        s = [(float(row["churn_probability"]), y[row["customerID"]]) for row in csv.DictReader(f)]
    assert len(s) == len(y), "every test customer is scored"
    s.sort()
    # Mann-Whitney U with ties counted one half
    rank, i, pos_rank = 1, 0, 0.0
    while i < len(s):
        j = i
        while j < len(s) and s[j][0] == s[i][0]:
            j += 1
        mid = rank + (j - i - 1) / 2
        pos_rank += mid * sum(1 for k in range(i, j) if s[k][1])
        rank += j - i
        i = j
    npos = sum(1 for _, p in s if p)
    nneg = len(s) - npos
    print("%.4f" % ((pos_rank - npos * (npos + 1) / 2) / (npos * nneg)))


if __name__ == "__main__":
    {"split": split, "auc": auc}[sys.argv[1]](*sys.argv[2:])
