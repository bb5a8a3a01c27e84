"""How fast the bot reads a message, how long loading and training take, and what it costs in memory.

    python scripts/bench_classify.py            # the README's table
    python scripts/bench_classify.py --runs 5

Each measure runs in a fresh Python process, so that imports, the dictionary and
the model are paid for as a new gunicorn worker pays for them. Classification
time is measured per message over every message of the validation and held-out
sets, after one warm-up pass; p50/p99 are over those messages, repeated.
Memory is read from /proc for three processes: a bare Flask app (the
baseline); the bot's app as a worker builds it (content and rules loaded, the
dictionary open); and the same after training and reading one message.
"Resident" counts the pages of Sudachi's 200 MB dictionary that were read: it is
a file mapped read-only, so every worker on a machine shares those pages.
"Own" is the anonymous memory only this process has: what each worker adds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOAD = """
import json, time, resource
t0 = time.perf_counter()
from pathlib import Path
from bot.nlu import load_understanding
u, problems = load_understanding(Path("keywords.yaml"), Path("examples"))
t1 = time.perf_counter()
u.train()
t2 = time.perf_counter()
# A hot reload in a running worker after an edit: imports done, the dictionary open.
import bot.nlu as nlu, bot.nlu.classify as classify
nlu._LOADED.clear(); classify._TRAINED.clear()  # the analyses of unchanged examples stay
t3 = time.perf_counter()
again, _ = load_understanding(Path("keywords.yaml"), Path("examples"))
again.train()
t4 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "train": t2 - t1, "reload": t4 - t3}))
"""

CLASSIFY = """
import json, time, yaml
from pathlib import Path
from bot.nlu import load_understanding
u, _ = load_understanding(Path("keywords.yaml"), Path("examples"))
u.train()
texts = [c["text"] for name in ("validation", "holdout")
         for c in yaml.safe_load(open(f"tests/content/{name}.yaml", encoding="utf-8"))["cases"]]
for t in texts:
    u(t)
times = []
for _ in range(3):
    for t in texts:
        s = time.perf_counter()
        u(t)
        times.append(time.perf_counter() - s)
print(json.dumps({"times": times, "messages": len(texts),
                  "chars": sum(map(len, texts)) / len(texts)}))
"""

MEMORY = """
import json, os
MODE = {mode!r}
if MODE == "bare":
    from flask import Flask
    app = Flask("bare")
else:
    from bot import create_app
    app = create_app({{"TESTING": True, "DATABASE_URL": "sqlite://"}})
    if MODE == "trained":
        content = app.extensions["bot"].content
        content.classifier.train()
        content.classifier("ネットで悪口を書かれて消したい")
def rollup():
    out = {{}}
    with open(f"/proc/{{os.getpid()}}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out
m = rollup()
print(json.dumps({{"rss": m["Rss"], "anon": m["Anonymous"]}}))
"""


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values: list[float], scale: float = 1.0, unit: str = "") -> str:
    vals = sorted(v * scale for v in values)
    return f"{vals[0]:.2f} / {statistics.median(vals):.2f} / {vals[-1]:.2f}{unit}"


def percentile(values: list[float], q: float) -> float:
    vals = sorted(values)
    return vals[min(len(vals) - 1, int(q * len(vals)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measure")
    runs = parser.parse_args().runs
    loads = [run(LOAD) for _ in range(runs)]
    classes = [run(CLASSIFY) for _ in range(runs)]
    mem = {mode: [run(MEMORY.format(mode=mode)) for _ in range(runs)]
           for mode in ("bare", "app", "trained")}
    p50 = [percentile(c["times"], 0.50) for c in classes]
    p99 = [percentile(c["times"], 0.99) for c in classes]
    n, chars = classes[0]["messages"], classes[0]["chars"]
    print(f"{runs} fresh processes each; min / median / max")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| load rules and examples | {spread([r['load'] for r in loads], unit=' s')} |")
    print(f"| train the model | {spread([r['train'] for r in loads], unit=' s')} |")
    print(f"| load + train, new process (imports included) | "
          f"{spread([r['load'] + r['train'] for r in loads], unit=' s')} |")
    print(f"| load + train, hot reload in a running worker | "
          f"{spread([r['reload'] for r in loads], unit=' s')} |")
    print(f"| classify one message, p50 ({n} messages, {chars:.0f} characters on average) "
          f"| {spread(p50, 1000, ' ms')} |")
    print(f"| classify one message, p99 | {spread(p99, 1000, ' ms')} |")
    mib = 1 / 2**20
    for mode, name in (("bare", "bare Flask app"), ("app", "the bot's app, content loaded"),
                       ("trained", "and the model trained")):
        rss = [m["rss"] for m in mem[mode]]
        anon = [m["anon"] for m in mem[mode]]
        print(f"| memory, {name}: resident / own (anonymous) | {spread(rss, mib, ' MiB')} / "
              f"{spread(anon, mib, ' MiB')} |")
    added = [t["anon"] - b["anon"] for t, b in zip(mem["trained"], mem["bare"])]
    print(f"| added per worker over bare Flask, own memory | {spread(added, mib, ' MiB')} |")

if __name__ == "__main__":
    main()
