"""Ground truth: ``truth.json`` and ``suspended.csv``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from echoscope.simulate._plan import Plan
from echoscope.simulate._world import BOT, MEMBER, NEVER, World

__all__ = ["LABEL_BOT", "LABEL_ORGANIC", "TRUTH_VERSION", "write_truth"]

TRUTH_VERSION = 1
LABEL_ORGANIC = "organic"
LABEL_BOT = "benign_automation"


def _iso(t: int) -> str:
    from echoscope.simulate._writers import iso_time

    return iso_time(int(t)).replace(".000Z", "Z")


def write_truth(out: Path, w: World, plan: Plan, counts: np.ndarray, n_ids: int
                ) -> tuple[Path, Path]:
    posted = counts > 0
    ids = w.account_ids
    labels: dict[str, str] = {}
    names = [c.name for c in plan.campaigns]
    for a in np.flatnonzero(posted).tolist():
        if w.role[a] == MEMBER:
            labels[str(int(ids[a]))] = names[int(w.campaign[a])]
        elif w.role[a] == BOT:
            labels[str(int(ids[a]))] = LABEL_BOT
        else:
            labels[str(int(ids[a]))] = LABEL_ORGANIC

    def present(accts: Any) -> list[str]:
        return [str(int(ids[a])) for a in sorted(int(x) for x in accts) if posted[a]]

    campaigns = []
    for c in plan.campaigns:
        campaigns.append({
            "name": c.name, "style": c.style, "members": present(c.members),
            "low_participation": present(c.info.get("low_participation", [])),
            "posts": c.posts,
            "app": w.apps[c.app][0] if c.app is not None else None,
            "hub": str(int(ids[c.hub])) if c.hub is not None else None,
            "hashtags": [h.lower() for h in c.hashtags], "domain": c.domain,
            **({"relay_delay_s": c.info["relay_delay_s"]} if "relay_delay_s" in c.info else {}),
            **({"images": c.info["images"]} if "images" in c.info else {}),
        })
    reinc = [{
        "old_account_id": str(int(ids[o])), "new_account_id": str(int(ids[n])),
        "old_handle": w.handles[o], "new_handle": w.handles[n], "display_name": w.names[n],
        "suspended_at": _iso(int(w.suspended[o])), "created_at": _iso(int(w.created[n])),
        "campaign": names[int(w.campaign[n])],
    } for o, n in plan.reincarnations]
    truth = {
        "version": TRUTH_VERSION,
        "generator": "echoscope.simulate",
        "platform": "twitter",
        "params": w.params.to_dict(),
        "posts": int(counts.sum()),
        "start": _iso(w.params.start_us),
        "end": _iso(w.params.end_us),
        "accounts": labels,
        "campaigns": campaigns,
        "reincarnations": reinc,
        "hashtags": {
            "storms": plan.storms,
            "hijacks": plan.hijacks,
            "trending": [{"hashtag": tag.lower(), "start": _iso(s), "end": _iso(e)}
                         for s, e, tag, _ in plan.trending],
        },
        "hard_negatives": {k: present(v) for k, v in plan.hard.items()},
    }
    tpath = out / "truth.json"
    tpath.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
    spath = out / "suspended.csv"
    with open(spath, "w", newline="", encoding="utf-8") as fh:
        cw = csv.writer(fh)
        cw.writerow(("user_id", "screen_name", "suspended_at"))
        for a in np.flatnonzero(w.suspended != NEVER).tolist():
            cw.writerow((int(ids[a]), w.handles[a], _iso(int(w.suspended[a]))))
    return tpath, spath
