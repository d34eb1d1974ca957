#!/usr/bin/env python3
"""Tabulates an autograd-profiler trace (`selm bench train --profile FILE`) per op:

    python3 scripts/dev/profile_summary.py FILE [--top 30] [--steps N]

Self time is an op's duration less that of the ops it called (events nest by time on a thread),
so the column sums to the traced time without counting a wrapper op and its kernels twice.
--steps divides the totals, giving milliseconds per training step."""
import argparse
import collections
import json


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--steps", type=int, default=1, help="timed steps in the trace")
    args = parser.parse_args()
    with open(args.trace) as handle:
        events = [e for e in json.load(handle) if e.get("ph") == "X"]
    events.sort(key=lambda e: (str(e.get("tid")), e["ts"], -e["dur"]))
    self_us = collections.Counter()
    total_us = collections.Counter()
    calls = collections.Counter()
    stack = []  # open events of the current thread: [event, time of its children]
    current_tid = None
    for event in events:
        if event.get("tid") != current_tid:
            stack, current_tid = [], event.get("tid")
        while stack and stack[-1][0]["ts"] + stack[-1][0]["dur"] <= event["ts"]:
            finished, children = stack.pop()
            self_us[finished["name"]] += finished["dur"] - children
        if stack:
            stack[-1][1] += event["dur"]
        stack.append([event, 0.0])
        total_us[event["name"]] += event["dur"]
        calls[event["name"]] += 1
    for finished, children in stack:
        self_us[finished["name"]] += finished["dur"] - children
    traced = sum(self_us.values())
    print(f"{'op':<44}{'calls/step':>11}{'self ms/step':>14}{'share':>8}{'total ms/step':>15}")
    for name, value in self_us.most_common(args.top):
        print(f"{name[:43]:<44}{calls[name] / args.steps:>11.1f}{value / 1000 / args.steps:>14.2f}"
              f"{value / traced:>8.1%}{total_us[name] / 1000 / args.steps:>15.2f}")
    print(f"{'all ops':<44}{sum(calls.values()) / args.steps:>11.1f}{traced / 1000 / args.steps:>14.2f}")


if __name__ == "__main__":
    main()
