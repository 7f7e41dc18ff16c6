"""Score results against simulated ground truth (``echoscope evaluate``).

Reads ``truth.json`` (written by :func:`echoscope.simulate.simulate`) and a results folder
written by ``echoscope analyze``:

* ``accounts.csv`` (required): ``account_id``, ``flagged`` (true/false), ``campaign_id``;
  other columns are ignored;
* ``reincarnations.csv`` (optional): ``old_account_id``, ``new_account_id``;
* ``hashtags.csv`` (optional): ``hashtag``, ``storm``, ``hijack`` (true/false).

Every account the truth knows is either a campaign member (a positive) or organic /
benign automation (a negative). Accounts in ``accounts.csv`` that the truth does not know
are counted (``unknown``) but not scored. Ratios that would divide by zero are ``None``.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import numpy as np

from echoscope.errors import InputError

__all__ = ["adjusted_rand_index", "evaluate", "prf"]

_TRUE = {"true", "1", "yes", "y", "t"}
NEGATIVE_LABELS = ("organic", "benign_automation")


def prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """Precision, recall and F1 (None where undefined) with the counts."""
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f1 = (2 * p * r / (p + r) if p + r else 0.0) if p is not None and r is not None else None
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


def adjusted_rand_index(labels_a: list[Any], labels_b: list[Any]) -> float | None:
    """Adjusted Rand index of two labelings of the same items (Hubert & Arabie 1985).

    1.0 for identical partitions (up to renaming), about 0 for independent ones. ``None``
    for fewer than two items. When both partitions are all-singletons or both are one
    cluster, the index is 1.0.
    """
    if len(labels_a) != len(labels_b):
        raise ValueError("labelings differ in length")
    n = len(labels_a)
    if n < 2:
        return None
    import numpy as np  # here, not at import: the CLI's start-up imports this package

    _, ia = np.unique(np.array([str(x) for x in labels_a]), return_inverse=True)
    _, ib = np.unique(np.array([str(x) for x in labels_b]), return_inverse=True)
    cont = np.zeros((int(ia.max()) + 1, int(ib.max()) + 1), dtype=np.float64)
    np.add.at(cont, (ia, ib), 1.0)

    def comb2(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    sum_ij = comb2(cont)
    sum_a = comb2(cont.sum(axis=1))
    sum_b = comb2(cont.sum(axis=0))
    total = n * (n - 1) / 2
    expected = sum_a * sum_b / total
    max_index = (sum_a + sum_b) / 2
    if max_index == expected:
        return 1.0
    return float((sum_ij - expected) / (max_index - expected))


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in _TRUE


def _clean_id(v: str | None) -> str:
    s = (v or "").strip()
    return s[1:] if s.startswith("'") else s


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            missing = [c for c in required if c not in cols]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found "
                                 f"{', '.join(cols) or 'no header'}.", path=str(path))
            return list(reader)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}.", path=str(path)) from None


def _load_truth(truth_path: Path) -> dict[str, Any]:
    if truth_path.is_dir():
        truth_path = truth_path / "truth.json"
    try:
        truth = orjson.loads(truth_path.read_bytes())
    except OSError as e:
        raise InputError(f"cannot read truth file {truth_path}: {e.strerror or e}.",
                         path=str(truth_path)) from None
    except orjson.JSONDecodeError as e:
        raise InputError(f"{truth_path} is not valid JSON: {e}.", path=str(truth_path)) from None
    if not isinstance(truth, dict) or not isinstance(truth.get("accounts"), dict):
        raise InputError(f"{truth_path} is not a truth.json written by `echoscope simulate` "
                         "(no 'accounts' map).", path=str(truth_path))
    return truth


def _norm_tag(t: str) -> str:
    return t.strip().lstrip("'").lstrip("#").casefold()


def evaluate(truth_path: str | Path, results_dir: str | Path) -> dict[str, Any]:
    """Compare an ``analyze`` output folder with ``truth.json``; returns the scores.

    Keys: ``accounts`` (precision, recall, F1, organic and benign-automation false-positive
    rates), ``campaigns`` (recall per campaign, also among low-participation members),
    ``hard_negatives`` (flagged among each kind), ``group_agreement`` (adjusted Rand index
    of predicted campaign ids vs true campaigns over flagged ∪ true members),
    ``reincarnations`` and ``hashtags`` (None when the file is absent).
    """
    truth = _load_truth(Path(truth_path))
    out = Path(results_dir)
    if not out.is_dir():
        raise InputError(f"results folder {out} does not exist (run `echoscope analyze ... "
                         f"--out {out}` first).", path=str(out))
    labels: dict[str, str] = {str(k): str(v) for k, v in truth["accounts"].items()}
    rows = _read_csv(out / "accounts.csv", ("account_id", "flagged"))
    flagged: dict[str, str] = {}
    unknown_flagged = 0
    for r in rows:
        aid = _clean_id(r.get("account_id"))
        if not _truthy(r.get("flagged")):
            continue
        if aid not in labels:
            unknown_flagged += 1
            continue
        flagged[aid] = (r.get("campaign_id") or "").strip() or f"flagged:{aid}"
    positives = {a for a, lab in labels.items() if lab not in NEGATIVE_LABELS}
    organic = {a for a, lab in labels.items() if lab == "organic"}
    bots = {a for a, lab in labels.items() if lab == "benign_automation"}
    fl = set(flagged)
    acc = prf(len(fl & positives), len(fl - positives), len(positives - fl))
    acc.update({
        "accounts": len(labels), "campaign_members": len(positives), "flagged": len(fl),
        "flagged_unknown": unknown_flagged,
        "organic_fpr": len(fl & organic) / len(organic) if organic else None,
        "benign_automation_fpr": len(fl & bots) / len(bots) if bots else None,
    })
    campaigns = []
    for c in truth.get("campaigns", []):
        members = set(c.get("members", []))
        low = set(c.get("low_participation", [])) & members
        campaigns.append({
            "name": c["name"], "style": c.get("style"), "members": len(members),
            "flagged": len(members & fl),
            "recall": len(members & fl) / len(members) if members else None,
            "low_participation_recall": len(low & fl) / len(low) if low else None,
            "predicted_groups": len({flagged[a] for a in members & fl}),
        })
    hard = {}
    for kind, ids in (truth.get("hard_negatives") or {}).items():
        s = set(ids)
        hard[kind] = {"accounts": len(s), "flagged": len(s & fl),
                      "rate": len(s & fl) / len(s) if s else None}
    # group agreement over flagged ∪ true members; non-members are singletons in the truth,
    # unflagged accounts singletons in the prediction
    items = sorted(fl | positives)
    true_lab = [labels[a] if a in positives else f"none:{a}" for a in items]
    pred_lab = [f"c:{flagged[a]}" if a in fl else f"none:{a}" for a in items]
    group = {"accounts": len(items), "ari": adjusted_rand_index(true_lab, pred_lab)}
    return {
        "truth": str(truth_path), "results": str(out),
        "accounts": acc, "campaigns": campaigns, "hard_negatives": hard,
        "group_agreement": group,
        "reincarnations": _eval_reincarnations(truth, out),
        "hashtags": _eval_hashtags(truth, out),
    }


def _eval_reincarnations(truth: dict[str, Any], out: Path) -> dict[str, Any] | None:
    path = out / "reincarnations.csv"
    if not path.exists():
        return None
    rows = _read_csv(path, ("old_account_id", "new_account_id"))
    pred = {(_clean_id(r["old_account_id"]), _clean_id(r["new_account_id"])) for r in rows}
    true = {(str(p["old_account_id"]), str(p["new_account_id"]))
            for p in truth.get("reincarnations", [])}
    res = prf(len(pred & true), len(pred - true), len(true - pred))
    res["pairs_predicted"] = len(pred)
    res["pairs_true"] = len(true)
    return res


def _eval_hashtags(truth: dict[str, Any], out: Path) -> dict[str, Any] | None:
    path = out / "hashtags.csv"
    if not path.exists():
        return None
    rows = _read_csv(path, ("hashtag",))
    tags = truth.get("hashtags") or {}
    res: dict[str, Any] = {}
    for flag, key in (("storm", "storms"), ("hijack", "hijacks")):
        true = {_norm_tag(x["hashtag"]) for x in tags.get(key, [])}
        pred = {_norm_tag(r["hashtag"]) for r in rows if _truthy(r.get(flag))}
        res[flag] = prf(len(pred & true), len(pred - true), len(true - pred))
    trending = {_norm_tag(x["hashtag"]) for x in tags.get("trending", [])}
    hijacked = {_norm_tag(x["hashtag"]) for x in tags.get("hijacks", [])}
    benign = trending - hijacked
    pred_any = {_norm_tag(r["hashtag"]) for r in rows
                if _truthy(r.get("storm")) or _truthy(r.get("hijack"))}
    res["organic_trending_flagged"] = {"hashtags": len(benign),
                                       "flagged": len(benign & pred_any)}
    return res


def label_counts(truth_path: str | Path) -> Counter[str]:
    """How many accounts carry each label (for summaries and tests)."""
    return Counter(_load_truth(Path(truth_path))["accounts"].values())
