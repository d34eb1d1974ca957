#!/usr/bin/env python3
"""PairRM adapter for selm's `command` judge type.

Needs the `llm-blender` package (pip install git+https://github.com/yuchenlin/LLM-Blender.git)
and the `llm-blender/PairRM` checkpoint (downloaded by it on first use). Written from the
package's documented API (Blender.loadranker, Blender.rank(..., return_scores=True)) but NOT
run as part of selm's tests, which cannot install it; please report problems.

Config:
  judge:
    type: command
    command:
      argv: [python3, scripts/judges/pairrm_judge.py, --device, cuda]

Protocol: reads {"id", "prompt", "candidates"} lines on stdin, writes {"id", "scores"}
(higher = better) or {"id", "error"} lines on stdout; logs go to stderr.
"""
import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description="PairRM judge speaking selm's JSON-lines protocol")
    parser.add_argument("--ranker", default="llm-blender/PairRM", help="ranker checkpoint to load")
    parser.add_argument("--device", default=None, help="torch device, e.g. cuda or cpu (default: llm-blender's choice)")
    parser.add_argument("--batch-size", type=int, default=1, help="candidate sets scored at once")
    args = parser.parse_args()

    import llm_blender  # imported here so that --help works without the package

    blender = llm_blender.Blender()
    if args.device:
        blender.loadranker(args.ranker, device=args.device)
    else:
        blender.loadranker(args.ranker)
    print("pairrm_judge: loaded %s" % args.ranker, file=sys.stderr, flush=True)

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            # rank() takes a list of inputs and a list of candidate lists; with return_scores it
            # gives one score per candidate (higher = better).
            scores = blender.rank([request["prompt"]], [request["candidates"]], return_scores=True,
                                  batch_size=args.batch_size)
            reply = {"id": request["id"], "scores": [float(s) for s in scores[0]]}
        except Exception as error:  # the judgment fails; the process keeps serving
            reply = {"id": request["id"], "error": "%s: %s" % (type(error).__name__, error)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
