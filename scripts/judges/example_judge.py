#!/usr/bin/env python3
"""Example judge for selm's `command` judge type (standard library only).

Protocol (one JSON object per line):
  stdin:  {"id": str, "prompt": str, "candidates": [str, ...]}
  stdout: {"id": str, "scores": [float, ...]}  or  {"id": str, "ranking": [int, ...]}
          or {"id": str, "error": str}

It scores each candidate by how often a word occurs in it (case-insensitive, whole words),
so its verdicts are easy to predict in tests. Flags that simulate faulty judges:
  --crash-after N   answer N requests, then exit with status 3 on the next one
  --hang            read requests but never answer
  --ranking         reply with a ranking (best first) instead of scores
  --error-on TEXT   reply {"error"} to a request whose prompt contains TEXT
"""
import argparse
import json
import re
import sys
import time


def word_count(text, word):
    return len(re.findall(r"\b" + re.escape(word.lower()) + r"\b", text.lower()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--word", default="good", help="word whose occurrences score a candidate")
    parser.add_argument("--crash-after", type=int, default=-1)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--ranking", action="store_true")
    parser.add_argument("--error-on", default=None)
    args = parser.parse_args()

    print("example judge ready (word=%r)" % args.word, file=sys.stderr, flush=True)
    answered = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if args.hang:
            while True:
                time.sleep(3600)
        if answered == args.crash_after:
            print("example judge: crashing as asked after %d requests" % answered, file=sys.stderr, flush=True)
            sys.exit(3)
        if args.error_on is not None and args.error_on in request["prompt"]:
            reply = {"id": request["id"], "error": "refusing prompt containing %r" % args.error_on}
        else:
            scores = [float(word_count(c, args.word)) for c in request["candidates"]]
            if args.ranking:
                order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
                reply = {"id": request["id"], "ranking": order}
            else:
                reply = {"id": request["id"], "scores": scores}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        answered += 1


if __name__ == "__main__":
    main()
