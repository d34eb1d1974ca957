#!/usr/bin/python3
"""Runs `selm bench` and the eager-PyTorch reference (scripts/dev/pyref_bench.py) side by side on
the same model directories and prints how they compare: throughput, time per step, peak RSS.

Each workload is run alternately (selm, python, selm, python, ...) for --rounds rounds and the
best run of each side is kept, so that drift on a shared machine hits both sides alike. Every
benchmark is its own process, so each peak RSS belongs to one implementation and one workload.

The two benchmark models are made in the work directory on first use, with selm itself (random
weights; only their shapes matter), from a tokenizer trained on the Debian fortunes text.

    /usr/bin/python3 scripts/dev/bench_compare.py --quick --only train-0.9m
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(SCRIPT_DIR))
PYREF = os.path.join(SCRIPT_DIR, "pyref_bench.py")
PYTHON = "/usr/bin/python3"  # Debian's Python, the one with torch
FORTUNES_DIR = "/usr/share/games/fortunes"
CORPUS_BYTES = 3 * 1024 * 1024

MODELS = {
    "llama-0.9m": {
        "tokenizer": "tok512",
        "overrides": ["architecture.hidden_size=128", "architecture.intermediate_size=352",
                      "architecture.num_hidden_layers=4", "architecture.num_attention_heads=4",
                      "architecture.num_key_value_heads=4"],
    },
    "llama-34m": {
        "tokenizer": "tok8000",
        "overrides": ["architecture.hidden_size=512", "architecture.intermediate_size=1376",
                      "architecture.num_hidden_layers=8", "architecture.num_attention_heads=8",
                      "architecture.num_key_value_heads=8"],
    },
}
TOKENIZERS = {"tok512": 512, "tok8000": 8000}

# name -> (benchmark, model, arguments, arguments under --quick)
WORKLOADS = [
    ("train-0.9m", "train", "llama-0.9m",
     ["--batch", "8", "--seq", "128", "--steps", "10", "--warmup", "1"],
     ["--batch", "8", "--seq", "128", "--steps", "3", "--warmup", "1"]),
    ("train-34m", "train", "llama-34m",
     ["--batch", "8", "--seq", "256", "--steps", "3", "--warmup", "1"],
     ["--batch", "8", "--seq", "256", "--steps", "1", "--warmup", "1"]),
    ("decode-0.9m-b1", "generate", "llama-0.9m",
     ["--batch", "1", "--prompt-len", "64", "--new-tokens", "128", "--repeats", "3"],
     ["--batch", "1", "--prompt-len", "64", "--new-tokens", "32", "--repeats", "1"]),
    ("decode-34m-b1", "generate", "llama-34m",
     ["--batch", "1", "--prompt-len", "64", "--new-tokens", "128", "--repeats", "3"],
     ["--batch", "1", "--prompt-len", "64", "--new-tokens", "32", "--repeats", "1"]),
    ("decode-34m-b32", "generate", "llama-34m",
     ["--batch", "32", "--prompt-len", "64", "--new-tokens", "128", "--repeats", "1"],
     ["--batch", "32", "--prompt-len", "64", "--new-tokens", "32", "--repeats", "1"]),
]
WORKLOAD_NAMES = [workload[0] for workload in WORKLOADS]


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_checked(command):
    log("+ " + " ".join(command))
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"command failed with exit status {completed.returncode}: {' '.join(command)}")


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def fortune_files():
    """Every fortune text file once: the *.u8 names are usually links to the plain files, and the
    *.dat files are binary indexes."""
    seen = set()
    files = []
    for name in sorted(os.listdir(FORTUNES_DIR)):
        path = os.path.join(FORTUNES_DIR, name)
        if name.endswith(".dat") or not os.path.isfile(path):
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        files.append(path)
    return files


def write_corpus(path):
    files = fortune_files()
    if not files:
        raise SystemExit(f"no fortune files in {FORTUNES_DIR} (Debian package fortunes-min / fortunes)")
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for source in files:
            with open(source, "rb") as handle:
                text = handle.read().decode("utf-8", errors="replace")
            for line in text.splitlines():
                if line.strip() == "%":  # the separator between fortunes
                    continue
                encoded = len(line.encode("utf-8")) + 1
                if written + encoded > CORPUS_BYTES:
                    return written
                out.write(line + "\n")
                written += encoded
    return written


def ensure_models(selm, workdir, names):
    os.makedirs(workdir, exist_ok=True)
    corpus = os.path.join(workdir, "corpus.txt")
    for name in names:
        model_dir = os.path.join(workdir, name)
        if os.path.isfile(os.path.join(model_dir, "config.json")) and (
                os.path.isfile(os.path.join(model_dir, "model.safetensors")) or
                os.path.isfile(os.path.join(model_dir, "model.safetensors.index.json"))):
            continue
        tokenizer = MODELS[name]["tokenizer"]
        tokenizer_dir = os.path.join(workdir, tokenizer)
        if not os.path.isfile(os.path.join(tokenizer_dir, "tokenizer.model")):
            if not os.path.isfile(corpus):
                size = write_corpus(corpus)
                log(f"corpus: {size} bytes of fortunes -> {corpus}")
            run_checked([selm, "tokenizer", "train", "-i", corpus, "--vocab-size", str(TOKENIZERS[tokenizer]),
                         "-o", tokenizer_dir])
        # --force: a directory left half-written by an interrupted run is replaced.
        run_checked([selm, "init", "--tokenizer", tokenizer_dir, "--out", model_dir, "--force"] +
                    MODELS[name]["overrides"])


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def parse_json_output(stdout):
    """The benchmark's JSON object: stdout from its first '{' (anything printed before it is
    not part of the result)."""
    start = stdout.find("{")
    if start < 0:
        raise ValueError("no JSON object on stdout")
    return json.loads(stdout[start:])


def run_benchmark(command, timeout):
    log("+ " + " ".join(command))
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}, time.perf_counter() - started
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout)[-2000:]
        return {"error": f"exit status {completed.returncode}: {tail.strip()}"}, wall
    try:
        return parse_json_output(completed.stdout), wall
    except ValueError as error:
        return {"error": f"unreadable output ({error}): {completed.stdout[-500:]}"}, wall


def throughput_key(kind):
    # Decode speed is what a generation benchmark is about; the prefill is reported apart.
    return "tokens_per_second" if kind == "train" else "decode_tokens_per_second"


def step_key(kind):
    return "ms_per_step" if kind == "train" else "ms_per_decode_step"


def flatten(record, prefix=""):
    """Nested JSON objects as dotted keys, so fields such as thread_pools.* can be searched."""
    flat = {}
    for key, value in record.items():
        name = prefix + key
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def extras_of(kind, selm_result, python_result):
    """Fields only selm reports (MFU for training, bandwidth estimates for decoding), as they
    are, and the two last losses of a training run as a sanity check that both sides computed
    the same thing."""
    parts = []
    if not selm_result or "error" in selm_result:
        return parts
    flat = flatten(selm_result)
    if kind == "train":
        if "mfu" in flat:
            parts.append(f"mfu={format_number(flat['mfu'])}")
        if python_result and "error" not in python_result and "last_loss" in flat:
            parts.append(f"loss s/p={format_number(flat['last_loss'])}/{format_number(python_result.get('last_loss'))}")
    for key, value in flat.items():
        if "bandwidth" in key:
            parts.append(f"{key}={format_number(value)}")
    return parts


def format_number(value):
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        magnitude = abs(value)
        if magnitude == 0:
            return "0"
        if magnitude >= 100:
            return f"{value:.0f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def ratio(numerator, denominator):
    if not isinstance(numerator, (int, float)) or not isinstance(denominator, (int, float)) or denominator == 0:
        return None
    return numerator / denominator


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--selm", default="build/selm", help="the selm binary (default build/selm)")
    parser.add_argument("--workdir", default="runs/bench-compare", help="models and corpus live here")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per side; the best is kept")
    parser.add_argument("--only", action="append", choices=WORKLOAD_NAMES, metavar="NAME",
                        help="run only this workload (repeatable): " + ", ".join(WORKLOAD_NAMES))
    parser.add_argument("--quick", action="store_true", help="fewer steps and tokens")
    parser.add_argument("--threads", type=int, default=None,
                        help="pass --threads K to both sides (default: each side keeps its own default)")
    parser.add_argument("--thread-sweep", action="store_true",
                        help="also run selm with every explicit --threads from 1 to the number of cores, in the same "
                             "alternation, and print how its default compares with the best of them")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one benchmark process may take")
    parser.add_argument("--json", dest="json_out", help="write every raw result here")
    args = parser.parse_args()
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")

    selm = args.selm
    if not os.path.isabs(selm) and not os.path.exists(selm) and os.path.exists(os.path.join(REPO_ROOT, selm)):
        selm = os.path.join(REPO_ROOT, selm)  # the default, when run from outside the repository
    selm = os.path.abspath(selm)
    if not os.access(selm, os.X_OK):
        raise SystemExit(f"{selm}: no selm binary there (build it, or pass --selm)")
    workdir = os.path.abspath(args.workdir)

    chosen = [w for w in WORKLOADS if not args.only or w[0] in args.only]
    ensure_models(selm, workdir, sorted({w[2] for w in chosen}))

    thread_args = [] if args.threads is None else ["--threads", str(args.threads)]
    report = {
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "selm": selm,
        "workdir": workdir,
        "rounds": args.rounds,
        "quick": args.quick,
        "workloads": {},
    }
    rows = []
    sweep_rows = []
    for name, kind, model, full_args, quick_args in chosen:
        bench_args = ["--model", os.path.join(workdir, model)] + (quick_args if args.quick else full_args) + thread_args
        commands = {
            "selm": [selm, "bench", kind] + bench_args,
            "python": [PYTHON, PYREF, kind] + bench_args,
        }
        if args.thread_sweep:
            for count in range(1, (os.cpu_count() or 1) + 1):
                commands[f"selm-t{count}"] = [selm, "bench", kind] + bench_args + ["--threads", str(count)]
        key = throughput_key(kind)
        runs = []
        best = {side: None for side in commands}
        for round_index in range(args.rounds):
            for side in commands:
                result, wall = run_benchmark(commands[side], args.timeout)
                runs.append({"side": side, "round": round_index, "wall_seconds": wall, "result": result})
                if "error" in result:
                    log(f"  {side}: {result['error']}")
                    continue
                log(f"  {side}: {key}={format_number(result.get(key))} peak_rss_mb={format_number(result.get('peak_rss_mb'))}")
                if best[side] is None or result.get(key, 0) > best[side].get(key, 0):
                    best[side] = result
        report["workloads"][name] = {
            "benchmark": kind,
            "commands": commands,
            "runs": runs,
            "best": best,
        }
        rows.append((name, kind, best["selm"], best["python"], runs))
        sweep_rows.append((name, kind, best))

    headers = ["workload", "metric", "selm tok/s", "python tok/s", "selm/python", "selm ms", "python ms",
               "selm RSS MB", "python RSS MB", "RSS s/p", "threads s/p", "selm extras"]
    table = []
    for name, kind, selm_best, python_best, runs in rows:
        key = throughput_key(kind)
        selm_value = selm_best.get(key) if selm_best else None
        python_value = python_best.get(key) if python_best else None
        selm_rss = selm_best.get("peak_rss_mb") if selm_best else None
        python_rss = python_best.get("peak_rss_mb") if python_best else None
        failed = [run for run in runs if "error" in run["result"]]
        extras = extras_of(kind, selm_best, python_best)
        if failed:
            extras.append(f"{len(failed)} failed run(s)")
        table.append([
            name,
            "tokens/s" if kind == "train" else "decode tok/s",
            format_number(selm_value) if selm_value is not None else "-",
            format_number(python_value) if python_value is not None else "-",
            (f"{ratio(selm_value, python_value):.2f}x" if ratio(selm_value, python_value) is not None else "-"),
            format_number(selm_best.get(step_key(kind))) if selm_best else "-",
            format_number(python_best.get(step_key(kind))) if python_best else "-",
            format_number(selm_rss) if selm_rss is not None else "-",
            format_number(python_rss) if python_rss is not None else "-",
            (f"{ratio(selm_rss, python_rss):.2f}" if ratio(selm_rss, python_rss) is not None else "-"),
            f"{selm_best.get('threads', '-') if selm_best else '-'}/{python_best.get('threads', '-') if python_best else '-'}",
            " ".join(extras),
        ])
        report["workloads"][name]["summary"] = {
            "metric": key,
            "selm": selm_value,
            "python": python_value,
            "ratio": ratio(selm_value, python_value),
            "selm_peak_rss_mb": selm_rss,
            "python_peak_rss_mb": python_rss,
            "rss_ratio": ratio(selm_rss, python_rss),
        }

    widths = [max(len(str(row[i])) for row in [headers] + table) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [headers] + table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    print("\n".join(lines))
    print(f"(best of {args.rounds} alternating run(s) per side{', --quick' if args.quick else ''}; "
          "ms = per training step, or per decode step; threads = each side's own report)")
    thread_counts = {(s.get("threads"), p.get("threads")) for _, _, s, p, _ in rows if s and p}
    if any(a != b for a, b in thread_counts):
        # Each side's default may differ (torch's own default counts physical cores, for one),
        # which then weighs in the ratios.
        print("note: the two sides ran with different thread counts; --threads K gives both the same")

    if args.thread_sweep:
        print("\nselm's default threads against its best explicit count (the same alternation, best run each):")
        for name, kind, best in sweep_rows:
            key = throughput_key(kind)
            default = best["selm"].get(key) if best["selm"] else None
            explicit = {side: result.get(key) for side, result in best.items()
                        if side.startswith("selm-t") and result is not None}
            if default is None or not explicit:
                print(f"  {name}: incomplete")
                continue
            best_side = max(explicit, key=explicit.get)
            print(f"  {name}: default {format_number(default)}, "
                  + ", ".join(f"{side[5:]} {format_number(value)}" for side, value in explicit.items())
                  + f"; default / best ({best_side[5:]}) = {default / explicit[best_side]:.3f}")
            report["workloads"][name]["thread_sweep"] = {"default": default, "explicit": explicit}

    if args.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, "w") as handle:
            json.dump(report, handle, indent=2)
        log(f"raw results -> {args.json_out}")
    any_missing = any(best is None for _, _, s, p, _ in rows for best in (s, p))
    return 1 if any_missing else 0


if __name__ == "__main__":
    sys.exit(main())
