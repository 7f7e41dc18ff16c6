"""Detection quality of ``echoscope analyze`` on default settings.

* Simulated data (``echoscope.simulate``) at several sizes and seeds: account precision,
  recall, F1, organic and benign-automation false-positive rates, recall per campaign
  style, flagged share of each hard negative (breaking-news bursts, copypasta, ...), and the
  adjusted Rand index of campaigns vs true campaigns, via ``echoscope.simulate.evaluate``.
* Real data in ../shared/datasets, used as it is:
  - IRA Fearmonger (#KochFarms hoax, 26-27 Nov 2015): are the 26 accounts that posted one
    identical text flagged, and in how many campaigns?
  - CooRTweet's Russian co-retweet set and German elections set (no labels): campaigns,
    flagged accounts, time.

Prints a Markdown section and writes it to benchmarks/RESULTS.md under "## Quality"
(replacing only that section). Defaults are never tuned to one of these inputs.

    .venv/bin/python benchmarks/quality.py            # simulated + IRA + Russian set
    .venv/bin/python benchmarks/quality.py --all      # also the German elections set
    .venv/bin/python benchmarks/quality.py --no-write
    .venv/bin/python benchmarks/quality.py --media    # image reposts with media files
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Quality"

SIM_RUNS = [  # (group, posts, seed, days): defaults are tuned on the first group only
    ("tuning", 20_000, 1, 14.0),
    ("tuning", 20_000, 2, 14.0),
    ("tuning", 20_000, 3, 14.0),
    ("held-out", 20_000, 21, 14.0),
    ("held-out", 20_000, 22, 14.0),
    ("held-out", 20_000, 23, 14.0),
]


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def run_simulated(tmp: Path) -> list[str]:
    from echoscope.cluster import ClusterParams
    from echoscope.pipeline import AnalyzeParams, analyze
    from echoscope.simulate import SimParams, evaluate, simulate

    lines = [
        "### Simulated data (default settings)",
        "",
        "Defaults were chosen on the tuning seeds (1-3); the held-out seeds (21-23) were "
        "run only to report.",
        "",
        "| set | posts | seed | precision | recall | F1 | organic FPR | bot FPR | ARI | seconds "
        "| recall, edge-level only |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    style_recall: dict[tuple[str, str], list[float]] = defaultdict(list)
    hard: dict[tuple[str, str], list[float]] = defaultdict(list)
    for group, posts, seed, days in SIM_RUNS:
        d = tmp / f"sim_{posts}_{seed}"
        sim = simulate(d / "data", SimParams(posts=posts, seed=seed, days=days))
        t0 = time.perf_counter()
        analyze(sim.files, d / "out", suspended=sim.suspended_path,
                params=AnalyzeParams(seed=0))
        secs = time.perf_counter() - t0
        ev = evaluate(sim.truth_path, d / "out")
        a = ev["accounts"]
        # the same data with method="edges" (each tie significant on its own, no campaign
        # test), for comparison
        analyze(sim.files, d / "out_edges", suspended=sim.suspended_path,
                params=AnalyzeParams(seed=0, cluster=ClusterParams(method="edges")))
        a_edges = evaluate(sim.truth_path, d / "out_edges")["accounts"]
        lines.append(
            f"| {group} | {posts:,} | {seed} | {_fmt(a['precision'])} | {_fmt(a['recall'])} | "
            f"{_fmt(a['f1'])} | {_fmt(a['organic_fpr'])} | {_fmt(a['benign_automation_fpr'])} "
            f"| {_fmt((ev.get('group_agreement') or {}).get('ari'))} | {secs:.1f} "
            f"| {_fmt(a_edges['recall'])} (precision {_fmt(a_edges['precision'])}) |"
        )
        for c in ev["campaigns"]:
            if c.get("recall") is not None:
                style_recall[(c["style"], group)].append(c["recall"])
        for kind, h in (ev.get("hard_negatives") or {}).items():
            if h.get("rate") is not None:
                hard[(kind, group)].append(h["rate"])
        print(f"simulated {posts} posts seed {seed}: {json.dumps(a)}", file=sys.stderr)

    def _mean(v: list[float] | None) -> str:
        return f"{statistics.mean(v):.3f}" if v else "–"

    styles = sorted({s for s, _ in style_recall})
    lines += ["", "Recall per campaign style (mean over the runs of each set):", "",
              "| style | tuning | held-out |", "|---|---:|---:|"]
    lines += [f"| {s} | {_mean(style_recall.get((s, 'tuning')))} | "
              f"{_mean(style_recall.get((s, 'held-out')))} |" for s in styles]
    kinds = sorted({k for k, _ in hard})
    lines += ["", "Hard negatives: share of their accounts flagged (mean over the runs):", "",
              "| kind | tuning | held-out |", "|---|---:|---:|"]
    lines += [f"| {k} | {_mean(hard.get((k, 'tuning')))} | {_mean(hard.get((k, 'held-out')))} |"
              for k in kinds]
    lines += ["", "Organic FPR counts flagged accounts among all non-member accounts; the "
              "hard negatives are subsets of them. Image reposts are not detectable from the "
              "records alone: the simulator's perceptual hash (`phash`) is not a field a real "
              "collector writes, and each copy has its own media id (docs/methods.md); with the "
              "media files (`--media-dir`) they are, see \"Image reposts and hijacks\"."]
    return lines


MEDIA_HEADING = "### Image reposts and hijacks"
MEDIA_NOTES = [
    "",
    "- Image reposts: the media keys are right in every run (five pictures, each shared by "
    "36-42 members; no organic poster of the 40 viral pictures flagged), but where the "
    "campaign is missed its ties stay weak: the configuration null compares a key with "
    "keys of the same popularity stratum, and at 20k posts the campaign's five pictures "
    "are the only images posted by 32-63 accounts, so the stratum's rate is set by the "
    "campaign's own periphery (seed 1: a pair sharing all five pictures within the hour "
    "has expectation 2.9, p = 0.18). The experiment columns merge popularity strata with "
    "fewer than 20 keys into the next lower one (`DetectParams(min_stratum_keys=20)`, "
    "opt-in: it splits #KochFarms 24 + 2; docs/methods.md, \"Thin strata merged\").",
    "- Hijacks: members post ~2.5 times over four 6-12 h trend windows, half the time with "
    "a link to the campaign's own domain. Since 2026-11-29 (10:00) rare hashtag episodes "
    "get a 6 h window (`DetectParams.episode_window`), with keys co-acted on at the same "
    "two action times counted once (`event_types`); domains in that window are opt-in. "
    "Hijack crews (`ClusterParams.crew_tags`, default 2) add the crews of the hashtag "
    "signals that posted their own content into the bursts of several hashtags. The "
    "\"hijack recall\" column is the plain run's (docs/methods.md, \"Hashtag storms and "
    "hijacks\").",
]


def run_media(tmp: Path) -> list[str]:
    """The simulated runs again with image files (``simulate(..., media_dir=)``), analysed
    without and with ``--media-dir`` (perceptual-hash media keys, echoscope.media_keys);
    plus, for hijack campaigns, the co-action edges the detector tested among members."""
    import pyarrow as pa

    from echoscope.pipeline import AnalyzeParams, analyze
    from echoscope.simulate import SimParams, evaluate, simulate
    from echoscope.workspace import Workspace

    lines = [
        MEDIA_HEADING,
        "",
        "`benchmarks/quality.py --media`: the runs above, simulated with image files "
        "(`echoscope simulate --media-dir`: each image_repost copy is a re-encoded variant "
        "of one synthetic picture, with its own media id) and analysed without and with "
        "`--media-dir` (default settings otherwise).",
        "",
        "| set | seed | image_repost recall, ids only | with --media-dir | precision, ids only "
        "| with --media-dir | recall, ids only | with --media-dir | organic FPR with "
        "--media-dir | viral-image posters flagged | media files | media-key stage s | hijack: "
        "edges tested among members (p <= 0.1) | hijack recall | image_repost recall, thin "
        "strata merged (experiment) | recall / precision, thin strata merged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    img_recall: dict[str, list[float]] = defaultdict(list)
    for group, posts, seed, days in SIM_RUNS:
        d = tmp / f"media_{posts}_{seed}"
        sim = simulate(d / "data", SimParams(posts=posts, seed=seed, days=days),
                       media_dir=d / "data" / "media")
        res = {}
        for name, media in (("plain", None), ("media", d / "data" / "media")):
            r = analyze(sim.files, d / name, suspended=sim.suspended_path, media_dir=media,
                        params=AnalyzeParams(seed=0))
            ev = evaluate(sim.truth_path, d / name)
            img = [c["recall"] for c in ev["campaigns"] if c["style"] == "image_repost"]
            viral = (ev.get("hard_negatives") or {}).get("viral_images") or {}
            res[name] = (ev["accounts"], img[0] if img else None, r, viral, ev)
        truth = json.loads(Path(sim.truth_path).read_text())
        hj = [c for c in truth["campaigns"] if c["style"] == "hijack"]
        with Workspace(res["plain"][2].workspace) as ws:
            ws.con.register("hj", pa.table({"a": hj[0]["members"] if hj else []}))
            tested, weak = ws.sql(
                "SELECT count(*), count(*) FILTER (WHERE p_value <= 0.1) FROM edges "
                "WHERE account_a IN (SELECT a FROM hj) AND account_b IN (SELECT a FROM hj)"
            ).to_pylist()[0].values()
        hj_ev = [c["recall"] for c in res["plain"][4]["campaigns"] if c["style"] == "hijack"]
        hj_rec = hj_ev[0] if hj_ev else None
        st_img, st_rec, st_prec = _strata_experiment(res["media"][2].workspace, truth)
        stage = res["media"][2].stages.get("media_keys", {})
        pa_, pm = res["plain"][0], res["media"][0]
        viral = res["media"][3]
        if res["media"][1] is not None:
            img_recall[group].append(res["media"][1])
        lines.append(
            f"| {group} | {seed} | {_fmt(res['plain'][1])} | {_fmt(res['media'][1])} | "
            f"{_fmt(pa_['precision'])} | {_fmt(pm['precision'])} | {_fmt(pa_['recall'])} | "
            f"{_fmt(pm['recall'])} | {_fmt(pm['organic_fpr'])} | "
            f"{viral.get('flagged', '–')} of {viral.get('accounts', '–')} | {sim.media_files:,} | "
            f"{_fmt(stage.get('seconds'))} | {tested} ({weak}) | {_fmt(hj_rec)} | "
            f"{_fmt(st_img)} | {_fmt(st_rec)} / {_fmt(st_prec)} |")
        print(f"media {posts} posts seed {seed}: {json.dumps(pm)}", file=sys.stderr)
    lines += ["", "Mean image_repost recall with `--media-dir`: "
              + ", ".join(f"{g} {statistics.mean(v):.3f}" for g, v in img_recall.items())
              + " (ids only: 0)."]
    lines += MEDIA_NOTES
    return lines


THIN_STRATUM_KEYS = 20


def _strata_experiment(workspace: Path, truth: dict[str, Any]
                       ) -> tuple[float | None, float, float]:
    """The --media-dir run detected again with thin popularity strata of the configuration
    null merged (``DetectParams.min_stratum_keys = THIN_STRATUM_KEYS``, whatever the
    default). Returns image_repost recall, recall and precision of all campaign members."""
    import shutil

    import echoscope.detect.coaction as co
    from echoscope.cluster import find_campaigns
    from echoscope.pipeline import AnalyzeParams
    from echoscope.workspace import Workspace

    copy = workspace.with_name("strata_experiment.duckdb")
    shutil.copy(workspace, copy)
    try:
        with Workspace(copy) as ws:
            co.detect_edges(ws, co.DetectParams(alpha=1.0,
                                                min_stratum_keys=THIN_STRATUM_KEYS))
            find_campaigns(ws, AnalyzeParams(seed=0).resolved_cluster())
            flagged = {r["account_id"] for r in ws.sql(
                "SELECT account_id FROM campaign_members").to_pylist()}
    finally:
        copy.unlink()
    members = {a for c in truth["campaigns"] for a in c["members"]}
    img = [set(c["members"]) for c in truth["campaigns"] if c["style"] == "image_repost"]
    img_rec = len(img[0] & flagged) / len(img[0]) if img and img[0] else None
    rec = len(members & flagged) / len(members) if members else 0.0
    prec = len(members & flagged) / len(flagged) if flagged else 1.0
    return img_rec, rec, prec


def _keep_media_section(text: str, lines: list[str]) -> list[str]:
    """The media subsection of the current Quality section, kept when ``lines`` lack it."""
    if MEDIA_HEADING in lines:
        return lines
    start = text.find("\n" + MEDIA_HEADING + "\n")
    if start < 0:
        return lines
    ends = [i for i in (text.find("\n### ", start + 1), text.find("\n## ", start + 1))
            if i >= 0]
    block = text[start + 1:min(ends) if ends else len(text)].rstrip("\n")
    return [*lines, "", *block.split("\n")]


def write_media_section(lines: list[str]) -> None:
    """Replace (or add) only the media subsection inside the Quality section."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = "\n".join(lines).rstrip() + "\n"
    q = text.find("\n" + HEADING + "\n")
    if q < 0:
        write_section(lines)
        return
    q_end = text.find("\n## ", q + len(HEADING) + 2)
    q_end = len(text) if q_end < 0 else q_end
    start = text.find("\n" + MEDIA_HEADING + "\n", q, q_end)
    if start < 0:
        sim_end = text.find("\n### ", text.find("\n### Simulated data", q) + 1, q_end)
        at = sim_end if sim_end >= 0 else q_end
        text = text[:at] + "\n\n" + block.rstrip("\n") + text[at:]
    else:
        nxt = [i for i in (text.find("\n### ", start + 1),) if 0 <= i < q_end]
        end = nxt[0] if nxt else q_end
        text = text[:start + 1] + block + text[end:]
    RESULTS.write_text(text, encoding="utf-8")


def run_ira(tmp: Path) -> list[str]:
    from echoscope.pipeline import AnalyzeParams, analyze
    from echoscope.workspace import Workspace

    path = DATASETS / "ira_fearmonger_kochfarms_2015" / "ira_fearmonger_tweets.csv"
    if not path.is_file():
        return ["### IRA #KochFarms", "", f"skipped: {path} is absent."]
    by_text: dict[str, set[str]] = defaultdict(set)
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if "kochfarms" in row["content"].lower():
                by_text[row["content"]].add(row["author_id"].lower())
    text, expected = max(by_text.items(), key=lambda kv: (len(kv[1]), kv[0]))
    t0 = time.perf_counter()
    res = analyze([path], tmp / "ira", format="ira", params=AnalyzeParams(seed=0))
    secs = time.perf_counter() - t0
    with Workspace(res.workspace) as ws:
        members = {r["account_id"]: r["campaign_id"] for r in ws.sql(
            "SELECT account_id, campaign_id FROM campaign_members").to_pylist()}
        sizes = {r["campaign_id"]: r["size"] for r in ws.sql(
            "SELECT campaign_id, size FROM campaigns").to_pylist()}
        # the campaign stage again at other seeds (detect once): issue 4 asks for the
        # same campaign whatever the seed
        from echoscope.cluster import find_campaigns
        by_seed = []
        for s in range(6):
            find_campaigns(ws, AnalyzeParams(seed=s).resolved_cluster())
            co = {r["account_id"]: r["campaign_id"] for r in ws.sql(
                "SELECT account_id, campaign_id FROM campaign_members").to_pylist()}
            top = Counter(co[a] for a in expected if a in co)
            by_seed.append((max(top.values(), default=0), len(co)))
    found = Counter(members.get(a) for a in expected)
    flagged = sum(v for k, v in found.items() if k is not None)
    camps = sorted((k for k in found if k is not None), key=lambda k: -found[k])
    return [
        "### IRA Fearmonger, #KochFarms (real data)",
        "",
        f"The identical text posted by {len(expected)} accounts: `{text}`.",
        "",
        f"- accounts flagged: {len(members)} of {res.counts.get('accounts')}; "
        f"campaigns: {res.counts.get('campaigns')} ({secs:.1f} s)",
        f"- of the {len(expected)} identical-text accounts: {flagged} flagged, in "
        f"{len(camps)} campaign(s) "
        + ", ".join(f"{k} ({found[k]} of them, size {sizes[k]})" for k in camps[:6]),
        f"- goal (issue 4): all {len(expected)} in one campaign — "
        + ("met" if flagged == len(expected) and len(camps) == 1 else "NOT met"),
        "- campaign stage again at seeds 0-5 (same edges): identical-text accounts in "
        "their largest campaign " + ", ".join(str(t) for t, _ in by_seed)
        + "; accounts flagged " + ", ".join(str(n) for _, n in by_seed),
    ]


def run_unlabelled(tmp: Path, name: str, path: Path, fmt: str) -> list[str]:
    from echoscope.pipeline import AnalyzeParams, analyze

    if not path.is_file():
        return [f"- {name}: skipped ({path} is absent)"]
    t0 = time.perf_counter()
    res = analyze([path], tmp / name, format=fmt, params=AnalyzeParams(seed=0))
    secs = time.perf_counter() - t0
    c = res.counts
    return [f"- {name}: {c.get('posts'):,} posts, {c.get('accounts'):,} accounts, "
            f"{c.get('edges'):,} edges, {c.get('campaigns'):,} campaigns, "
            f"{c.get('flagged_accounts'):,} accounts flagged ({secs:.1f} s)"]


def run_cluster_cost(n_accounts: int = 50_000, n_ties: int = 100_000) -> list[str]:
    """Time of the campaign stage alone on a synthetic tie graph: random weak ties plus 20
    planted 20-account cliques (a dense background: ~4 ties per account)."""
    import numpy as np
    import pyarrow as pa

    from echoscope.cluster import ClusterParams, find_campaigns
    from echoscope.workspace import Workspace

    rng = np.random.default_rng(0)
    a = rng.integers(0, n_accounts, n_ties)
    b = rng.integers(0, n_accounts, n_ties)
    keep = a != b
    lo, hi = [np.minimum(a, b)[keep]], [np.maximum(a, b)[keep]]
    ii, jj = np.triu_indices(20, 1)
    for _ in range(20):
        mem = rng.choice(n_accounts, 20, replace=False)
        lo.append(np.minimum(mem[ii], mem[jj]))
        hi.append(np.maximum(mem[ii], mem[jj]))
    x, y = np.concatenate(lo), np.concatenate(hi)
    n = len(x)
    names = np.array([f"u{i:07d}" for i in range(n_accounts)])
    edges = pa.table({
        "account_a": names[x], "account_b": names[y], "type": pa.array(["text"] * n),
        "window": np.full(n, 60.0), "n_keys": np.full(n, 2), "n_pairs": np.full(n, 2),
        "min_delay": np.zeros(n), "median_delay": np.zeros(n),
        "weight": rng.uniform(0.1, 1, n), "p_value": rng.uniform(0, 0.1, n),
        "q_value": np.ones(n),
    })
    with Workspace(":memory:") as ws:
        ws.replace("edges", edges)
        t0 = time.perf_counter()
        res = find_campaigns(ws, ClusterParams())
        secs = time.perf_counter() - t0
    return [
        "### Cost of the campaign stage",
        "",
        f"`find_campaigns` on {n:,} ties among {n_accounts:,} accounts (random weak ties "
        f"plus 20 planted 20-account cliques), 19 rewired graphs: {secs:.1f} s, "
        f"{res.n_campaigns} campaigns. In a tie graph this dense (~4 ties per account) "
        "large random communities set a high bar and the planted cliques are not "
        "confirmed: the campaign test errs towards not flagging (docs/analyze.md). "
        "Real tie graphs measured above have under one tie per account.",
    ]


def _keep_written_sections(text: str, lines: list[str]) -> list[str]:
    """Subsections of the current Quality section that this run does not produce (written
    by hand or by other runs: scale checks, experiments), kept after the generated ones."""
    start = text.find("\n" + HEADING + "\n")
    if start < 0:
        return lines
    end = text.find("\n## ", start + len(HEADING) + 2)
    body = text[start + 1:end if end >= 0 else len(text)]
    produced = {x for x in lines if x.startswith("### ")}
    kept: list[str] = []
    for block in body.split("\n### ")[1:]:
        block = "### " + block.rstrip("\n")
        if block.split("\n", 1)[0] not in produced:
            kept += ["", *block.split("\n")]
    return [*lines, *kept]


def write_section(lines: list[str]) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    lines = _keep_written_sections(text, _keep_media_section(text, lines))
    section = HEADING + "\n\n" + "\n".join(lines).rstrip() + "\n"
    start = text.find("\n" + HEADING + "\n")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(HEADING) + 2)
        text = text[:start + 1] + section + (text[end:] if end >= 0 else "")
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="also the German elections set")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--no-sim", action="store_true", help="skip simulated data")
    ap.add_argument("--media", action="store_true",
                    help="only the image-repost runs (simulated images, analyze with and "
                         "without --media-dir); writes its own subsection")
    ap.add_argument("--keep", metavar="DIR", default=None,
                    help="with --media: keep the simulated data and outputs in DIR")
    args = ap.parse_args()
    if args.media:
        with tempfile.TemporaryDirectory(prefix="echoscope-quality-media-") as d:
            media_lines = run_media(Path(args.keep) if args.keep else Path(d))
        print("\n".join(media_lines))
        if not args.no_write:
            write_media_section(media_lines)
        return 0
    from echoscope import __version__

    lines = [f"echoscope {__version__}, `benchmarks/quality.py`, default parameters "
             f"({time.strftime('%Y-%m-%d')}).", ""]
    with tempfile.TemporaryDirectory(prefix="echoscope-quality-") as d:
        tmp = Path(d)
        if not args.no_sim:
            lines += [*run_simulated(tmp), ""]
        lines += [*run_ira(tmp), ""]
        lines += ["### Unlabelled real data", ""]
        lines += run_unlabelled(tmp, "CooRTweet Russian co-retweets",
                                DATASETS / "coortweet_russian_coord_tweets"
                                / "russian_coord_tweets.csv", "coortweet-csv")
        if args.all:
            lines += run_unlabelled(tmp, "CooRTweet German elections 2021",
                                    DATASETS / "coortweet_german_elections_2021"
                                    / "german_elections.csv.gz", "coortweet-multi")
        lines += ["", *run_cluster_cost()]
    print("\n".join(lines))
    if not args.no_write:
        write_section(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
