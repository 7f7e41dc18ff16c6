"""echoscope --compat cnt vs coordination-network-toolkit 1.5.2 on the same input.

Generates a synthetic toolkit CSV (neutral invented text; organic posting, reposts of
popular posts, replies, shared links, and a few coordinated groups), then runs, each side
in its own child process so time and peak memory are its own:

* the toolkit: ``preprocess`` + ``co_retweet``, ``co_tweet``, ``co_link``, ``co_reply``
  (its Python API; ``n_threads`` = CPUs), and ``co_similar_tweet`` on two smaller inputs:
  one at the same density (messages per second) as the big one, one ten times denser
  (the toolkit scores every pair of messages in a window, so its cost per message grows
  with the density);
* echoscope: read the CSV + the same networks (``echoscope.detect.compat_cnt``), once
  one network after the other on one thread (each part timed), and once all networks
  together with ``cnt_networks(threads=--threads)`` (up to that many threads; it uses a
  second one only from 4M messages), the library's end-to-end figure; and every input
  once more as one ``echoscope network --compat cnt --type a,b,... -o DIR/`` command, as
  a user runs it (its CSVs compared too).

With ``--repeat N`` each echoscope child runs N times: CPU seconds are those of the run
of median CPU time, wall seconds the median over the runs (ranges in the notes).

Edge lists are compared (they must be identical) and the figures printed; with
``--append`` they are appended to benchmarks/RESULTS.md under
"## vs coordination-network-toolkit".

    .venv/bin/python benchmarks/vs_cnt.py --size 100000 --similar-size 10000 --dense-size 5000
    .venv/bin/python benchmarks/vs_cnt.py --size 1000000 --append
"""

from __future__ import annotations

# Only what the child processes need is imported here (their CPU seconds are the
# figures); the parent's modules are imported in the functions that use them.
import json
import os
import resource
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

EXACT = ("co_retweet", "co_tweet", "co_link", "co_reply")

_WORDS = ("river lamp orange garden market silver window cloud bridge paper coffee yellow "
         "train forest music stone morning evening street harbour meeting festival "
         "bakery library museum weather concert tickets open closed new old great small "
         "today tomorrow weekend city park road school team match score update photo")
WORDS = _WORDS.split()


DEFAULT_RATE = 1 / 0.6  # messages per second of the generated inputs (~144k a day)


def generate(path: Path, n: int, seed: int = 1, rate: float = DEFAULT_RATE) -> None:
    """A toolkit CSV of ``n`` messages, ``rate`` per second on average (every non-repost
    carries at least one URL, so the toolkit's empty-URL bug does not show)."""
    import csv
    import random

    rng = random.Random(seed)
    n_users = max(20, n // 20)
    span = max(3600 if rate == DEFAULT_RATE else 60, int(n / rate))
    pool_urls = [f"https://site{i % 997}.example/{i}" for i in range(max(50, n // 40))]
    templates = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14)))
                 for _ in range(max(50, n // 50))]
    originals: list[tuple[str, float]] = []
    groups = [[f"g{g}_{i}" for i in range(12)] for g in range(max(2, n // 50_000))]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message",
                    "timestamp", "urls"])
        i = 0
        while i < n:
            t = rng.random() * span
            if groups and rng.random() < 0.01 and originals:
                # a coordinated group reposts / copies the same thing within seconds
                grp = rng.choice(groups)
                target, _ = originals[-1 - rng.randrange(min(50, len(originals)))]
                text = rng.choice(templates)
                for acct in grp:
                    if i >= n:
                        break
                    dt = rng.random() * 20
                    if rng.random() < 0.5:
                        w.writerow([f"m{i}", acct, acct, target, "", "RT " + text,
                                    f"{t + dt:.3f}", ""])
                    else:
                        w.writerow([f"m{i}", acct, acct, "", "", text, f"{t + dt:.3f}",
                                    rng.choice(pool_urls[:20])])
                    i += 1
                continue
            user = f"u{int(n_users * rng.random() ** 1.5)}"
            r = rng.random()
            if r < 0.4 and originals:
                # repost, popularity ~ recent and Zipf-like
                k = int(len(originals) * (1 - rng.random() ** 0.2))
                target = originals[min(k, len(originals) - 1)][0]
                w.writerow([f"m{i}", user, user, target, "", "RT", f"{t:.3f}", ""])
            else:
                reply = ""
                if r < 0.55 and originals:
                    reply = originals[rng.randrange(len(originals))][0]
                text = rng.choice(templates) if rng.random() < 0.3 else " ".join(
                    rng.choice(WORDS) for _ in range(rng.randint(3, 16)))
                if rng.random() < 0.2:
                    text = "@" + rng.choice(WORDS) + " " + text.capitalize()
                urls = " ".join(rng.choice(pool_urls) for _ in range(rng.randint(1, 2)))
                w.writerow([f"m{i}", user, user, "", reply, text,
                            str(int(t)) if rng.random() < 0.7 else f"{t:.2f}", urls])
                if rng.random() < 0.3:
                    originals.append((f"m{i}", t))
            i += 1


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024  # Linux: KiB


def child_toolkit(csv_path: str, out_dir: str, types: list[str], window: int, k: int,
                  threads: int) -> dict[str, Any]:
    import contextlib
    import io
    from pathlib import Path

    from coordination_network_toolkit import compute_networks as cn
    from coordination_network_toolkit import graph, preprocess
    from coordination_network_toolkit import similarity as sim

    db = os.path.join(out_dir, "cnt.db")
    times: dict[str, float] = {}
    sink = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        preprocess.preprocess_csv_files(db, [csv_path])
    times["preprocess"] = time.perf_counter() - t0
    fns = {
        "co_retweet": lambda: cn.compute_co_retweet_parallel(db, window, n_threads=threads,
                                                             min_edge_weight=k),
        "co_tweet": lambda: cn.compute_co_tweet_network(db, window, n_threads=threads,
                                                        min_edge_weight=k),
        "co_link": lambda: cn.compute_co_link_network(db, window, n_threads=threads,
                                                      min_edge_weight=k),
        "co_reply": lambda: cn.compute_co_reply_network(db, window, n_threads=threads,
                                                        min_edge_weight=k),
        "co_similar_tweet": lambda: cn.compute_co_similar_tweet(
            db, window, n_threads=threads, min_edge_weight=k, similarity_threshold=0.8,
            similarity_function=sim.get_similarity_fn_from_min_size(1)),
    }
    counts = {}
    for typ in types:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sink):
            fns[typ]()
        edges = sorted(f"{a}\t{b}\t{w}" for a, b, w, _ in graph.get_edge_rows(db, typ))
        times[typ] = time.perf_counter() - t0
        Path(out_dir, f"toolkit_{typ}.tsv").write_text("\n".join(edges))
        counts[typ] = len(edges)
    return {"times": times, "edges": counts, "peak_rss_mb": _rss_mb()}


def child_echoscope(csv_path: str, out_dir: str, types: list[str], window: int, k: int,
                    threads: int) -> dict[str, Any]:
    """``threads`` > 1: the networks computed together (``cnt_networks``), as a user
    computing all of them would; 1: one after the other, each timed on its own."""
    t0 = time.perf_counter()
    from echoscope.detect.compat_cnt import (
        CntParams,
        cnt_network,
        cnt_networks,
        messages_from_cnt_csv,
    )

    times = {"import": time.perf_counter() - t0}
    t0 = time.perf_counter()
    msgs = messages_from_cnt_csv(csv_path, types=types)  # only the columns these types read
    times["read"] = time.perf_counter() - t0
    params = [CntParams(type=t, time_window=window, min_edge_weight=k) for t in types]
    tables = {}
    if threads > 1:
        t0 = time.perf_counter()
        for p, t in zip(params, cnt_networks(msgs, params, threads=threads), strict=True):
            tables[p.type] = t
        times["networks"] = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        msgs.tables  # noqa: B018 - dedupe and encode, like the toolkit's preprocess
        times["preprocess"] = times["read"] + time.perf_counter() - t0
        for p in params:
            t0 = time.perf_counter()
            tables[p.type] = cnt_network(msgs, p)
            times[p.type] = time.perf_counter() - t0
    counts = {}
    tag = "echoscope" if threads > 1 else "echoscope1"
    for typ, t in tables.items():
        edges = sorted(f"{a}\t{b}\t{w}" for a, b, w in zip(
            t["source"].to_pylist(), t["target"].to_pylist(), t["weight"].to_pylist(),
            strict=True))
        with open(os.path.join(out_dir, f"{tag}_{typ}.tsv"), "w", encoding="utf-8") as f:
            f.write("\n".join(edges))
        counts[typ] = len(edges)
    return {"times": times, "edges": counts, "peak_rss_mb": _rss_mb()}


def run_child(side: str, csv_path: Path, out_dir: Path, types: list[str], args: Any,
              threads: int | None = None) -> dict[str, Any]:
    import subprocess

    # the child imports this file as a module (its bytecode cached by compile_bytecode)
    # instead of running it as a script, which Python compiles afresh every time (~0.03
    # CPU s of this 480-line file in each child, either tool's)
    here = os.path.dirname(os.path.abspath(__file__))
    child = f"import sys; sys.path.insert(0, {here!r}); import vs_cnt; vs_cnt.child_main(sys.argv[1:])"
    cmd = [sys.executable, "-c", child, "--child", side, "--csv", str(csv_path),
           "--out", str(out_dir), "--types", ",".join(types), "--window", str(args.window),
           "--min-edge-weight", str(args.min_edge_weight), "--threads",
           str(args.threads if threads is None else threads)]
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{side} child failed:\n{p.stderr[-3000:]}")
    res: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    res["wall"] = wall
    # CPU seconds of the child and everything it waited for (the toolkit's workers)
    res["cpu"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return res


def run_cli(csv_path: Path, out_dir: Path, types: list[str], args: Any) -> dict[str, Any]:
    """All ``types`` with one ``echoscope network --compat cnt --type ... -o DIR`` command,
    as a user runs it; its edge CSVs saved as ``cli_<type>.tsv`` for :func:`compare`."""
    import csv
    import subprocess
    from pathlib import Path

    exe = Path(sys.executable).with_name("echoscope")
    dest = out_dir / "cli"
    cmd = [str(exe), "network", str(csv_path), "--compat", "cnt", "--type", ",".join(types),
           "--time-window", str(args.window), "--min-edge-weight", str(args.min_edge_weight),
           "--threads", str(args.threads), "-o", str(dest) + os.sep, "-q"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode() if p.stderr else ""
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"echoscope network failed:\n{err[-3000:]}")
    for t in types:
        with open(dest / f"{t}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        Path(out_dir, f"cli_{t}.tsv").write_text(
            "\n".join(sorted(f"{a}\t{b}\t{w}" for a, b, w, _ in rows)))
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}


def median_run(n: int, fn: Any, *fargs: Any, **kw: Any) -> dict[str, Any]:
    """``fn(*fargs, **kw)`` ``n`` times; the result of median CPU seconds, with
    ``cpu_range``."""
    runs = sorted((fn(*fargs, **kw) for _ in range(max(1, n))), key=lambda r: r["cpu"])
    res = runs[(len(runs) - 1) // 2]
    res["cpu_range"] = (runs[0]["cpu"], runs[-1]["cpu"])
    walls = sorted(r["wall"] for r in runs)
    res["wall_range"] = (walls[0], walls[-1])
    res["wall_median"] = walls[(len(walls) - 1) // 2]
    return res


def wall(r: dict[str, Any]) -> float:
    """Median wall seconds of a :func:`median_run` result."""
    return float(r.get("wall_median", r["wall"]))


def compare(out_dir: Path, types: list[str], tag: str = "echoscope") -> dict[str, bool]:
    return {t: (out_dir / f"toolkit_{t}.tsv").read_text() ==
            (out_dir / f"{tag}_{t}.tsv").read_text() for t in types}


def child_main(argv: list[str]) -> None:
    """``--child SIDE --csv F --out D --types a,b --window W --min-edge-weight K
    --threads N`` (from :func:`run_child`), parsed without argparse."""
    a = dict(zip(argv[::2], argv[1::2], strict=True))
    fn = child_toolkit if a["--child"] == "toolkit" else child_echoscope
    res = fn(a["--csv"], a["--out"], a["--types"].split(","), int(a["--window"]),
             int(a["--min-edge-weight"]), int(a["--threads"]))
    print(json.dumps(res))


def compile_bytecode() -> int:
    """Write the bytecode (``.pyc``) of echoscope's modules, as installing the package
    does (pip compiles it at install time; a checkout writes it on the first import),
    and of this file (both tools' children import it), and return how many of
    echoscope's modules had none. Without it, in an environment with
    ``PYTHONDONTWRITEBYTECODE`` set (this machine's), every echoscope child compiled its
    modules from source: ~0.03 CPU s of each start-up that no installed copy pays. The
    toolkit's modules are installed, so they have theirs."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("echoscope")
    if spec is None or not spec.submodule_search_locations:
        return 0
    root = next(iter(spec.submodule_search_locations))
    missing = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                cached = importlib.util.cache_from_source(os.path.join(dirpath, name))
                if not os.path.exists(cached):
                    missing += 1
    compileall.compile_dir(root, quiet=1)
    compileall.compile_file(os.path.abspath(__file__), quiet=1)  # the children import it
    return missing


def main() -> None:
    import argparse
    import platform
    import tempfile
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--similar-size", type=int, default=100_000)
    ap.add_argument("--dense-size", type=int, default=30_000,
                    help="co_similar_tweet also on this many messages at --dense-rate")
    ap.add_argument("--dense-rate", type=float, default=10 * DEFAULT_RATE,
                    help="messages per second of the dense input (default 10x the others)")
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--min-edge-weight", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--append", action="store_true", help="append to benchmarks/RESULTS.md")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each echoscope child this many times and report the run of "
                         "median CPU time (a shared machine's load makes single runs swing; "
                         "the toolkit runs once)")
    args = ap.parse_args()

    lines = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    n_compiled = compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="vs_cnt_") as tmp:
        d = Path(tmp)
        big = d / "big.csv"
        t0 = time.perf_counter()
        generate(big, args.size)
        gen_s = time.perf_counter() - t0
        small = d / "small.csv"
        generate(small, args.similar_size, seed=2)
        dense = d / "dense.csv"
        generate(dense, args.dense_size, seed=3, rate=args.dense_rate)
        say(f"### {args.size:,} messages (exact types); co_similar_tweet on "
            f"{args.similar_size:,} (same density) and {args.dense_size:,} (dense); window "
            f"{args.window} s, min edge weight {args.min_edge_weight}; {platform.machine()}, "
            f"{os.cpu_count()} CPUs, toolkit n_threads={args.threads}, echoscope threads="
            f"{args.threads}; load average at start {os.getloadavg()[0]:.1f} (shared machine)")
        say(f"(inputs generated in {gen_s:.1f} s: {big.stat().st_size / 1e6:.1f} MB; "
            f"{DEFAULT_RATE:.1f} messages/s = {DEFAULT_RATE * args.window:.0f} per window, "
            f"dense input {args.dense_rate:.1f}/s = {args.dense_rate * args.window:.0f} per "
            "window)")
        say("")
        say("| part | toolkit s | echoscope s | speed-up | edges | identical |")
        say("|---|---:|---:|---:|---:|---|")
        rows = []
        notes: list[str] = []
        for label, path, types in (("exact", big, list(EXACT)),
                                   ("similar", small, ["co_similar_tweet"]),
                                   ("similar dense", dense, ["co_similar_tweet"])):
            out = d / label.replace(" ", "_")
            out.mkdir()
            tk = run_child("toolkit", path, out, types, args)
            # one thread, each part timed on its own; then (several types) all together
            e1 = median_run(args.repeat, run_child, "echoscope", path, out, types, args,
                            threads=1)
            same1 = compare(out, types, "echoscope1")
            if len(types) > 1 and args.threads > 1:
                es = median_run(args.repeat, run_child, "echoscope", path, out, types, args)
                same = compare(out, types)
            else:
                es, same = e1, same1
            ok = all(same.values()) and all(same1.values())
            sfx = "" if label == "exact" else f" ({label} input)"
            for part in ["preprocess", *types]:
                x, y = tk["times"][part], e1["times"][part]
                edges = tk["edges"].get(part, "")
                say(f"| {part}{sfx} | {x:.2f} | {y:.2f} | {x / max(y, 1e-9):.0f}x | {edges} | "
                    f"{same1.get(part, '') if part != 'preprocess' else ''} |")
            if es is not e1:
                say(f"| {label} end to end, one thread (child wall incl. start-up) | "
                    f"{tk['wall']:.2f} | {wall(e1):.2f} | {tk['wall'] / wall(e1):.0f}x | "
                    f"| {all(same1.values())} |")
                say(f"| {label} end to end, one thread, CPU seconds | {tk['cpu']:.2f} | "
                    f"{e1['cpu']:.2f} | {tk['cpu'] / max(e1['cpu'], 1e-9):.0f}x | | |")
            say(f"| **{label} end to end, library** (child wall incl. start-up"
                f"{f', cnt_networks(threads={args.threads})' if es is not e1 else ''}) | "
                f"{tk['wall']:.2f} | {wall(es):.2f} | {tk['wall'] / wall(es):.0f}x | | "
                f"{ok} |")
            say(f"| **{label} end to end, library, CPU seconds** (user+sys, incl. workers) | "
                f"{tk['cpu']:.2f} | {es['cpu']:.2f} | {tk['cpu'] / max(es['cpu'], 1e-9):.0f}x "
                f"| | |")
            cli = median_run(args.repeat, run_cli, path, out, types, args)
            same_cli = all(compare(out, types, "cli").values())
            ok = ok and same_cli
            say(f"| **{label} end to end, one `echoscope network --type "
                f"{','.join(types)} --threads {args.threads} -o DIR/` command** (wall) | "
                f"{tk['wall']:.2f} | {wall(cli):.2f} | {tk['wall'] / wall(cli):.0f}x | | "
                f"{same_cli} |")
            say(f"| **{label} end to end, that command, CPU seconds** | {tk['cpu']:.2f} | "
                f"{cli['cpu']:.2f} | {tk['cpu'] / max(cli['cpu'], 1e-9):.0f}x | | |")
            say(f"| (that command's peak RSS, MB) | | {cli['peak_rss_mb']:.0f} | | | |")
            if args.repeat > 1:
                def span(r: dict[str, Any], key: str) -> str:
                    lo, hi = r[f"{key}_range"]
                    return f"{lo:.2f}-{hi:.2f}"

                rng = [f"one thread CPU {span(e1, 'cpu')}, wall {span(e1, 'wall')}"]
                if es is not e1:
                    rng.append(f"cnt_networks CPU {span(es, 'cpu')}, wall {span(es, 'wall')}")
                rng.append(f"command CPU {span(cli, 'cpu')}, wall {span(cli, 'wall')}")
                notes.append(f"- {label}: echoscope run {args.repeat} times, the run of median "
                             f"CPU shown; seconds over the runs: {'; '.join(rng)}")
            rows.append((label, tk, es, ok))
        say("")
        for label, tk, es, _ok in rows:
            say(f"- {label}: peak RSS toolkit {tk['peak_rss_mb']:.0f} MB (incl. its worker "
                f"processes), echoscope {es['peak_rss_mb']:.0f} MB; echoscope's start-up "
                f"(imports) {es['times']['import']:.2f} s of its wall time")
        for note in notes:
            say(note)
        say(f"- echoscope's bytecode written before the runs, as installing it does "
            f"({n_compiled} modules had none)")
        say(f"- load average at the end {os.getloadavg()[0]:.1f}")
        ok = all(r[3] for r in rows)
        say(f"- edge lists identical for every type: {ok}")
        say("")
    if args.append:
        res = Path(__file__).resolve().parents[1] / "benchmarks" / "RESULTS.md"
        text = res.read_text(encoding="utf-8") if res.exists() else "# Benchmark results\n"
        head = "## vs coordination-network-toolkit"
        if head not in text:
            text = text.rstrip("\n") + f"\n\n{head}\n\nMeasured by `benchmarks/vs_cnt.py`.\n"
        # insert at the end of our section (before the next "## " heading, if any)
        start = text.index(head) + len(head)
        nxt = text.find("\n## ", start)
        block = "\n" + "\n".join(lines).rstrip("\n") + "\n"
        if nxt < 0:
            text = text.rstrip("\n") + "\n" + block
        else:
            text = text[:nxt].rstrip("\n") + "\n" + block + text[nxt:]
        res.write_text(text, encoding="utf-8")
    if not all(r[3] for r in rows):
        raise SystemExit("edge lists differ")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[1:])
    else:
        main()
