#!/usr/bin/env bash
# Builds the torch-free parsers with AddressSanitizer and UndefinedBehaviorSanitizer into
# ./build-sanitize (cmake -DSELM_SANITIZE=address,undefined: cmake/SelmSanitize.cmake) and runs
# the fuzz suite and the parsers' unit tests there. Any sanitizer report fails the run.
#   bash scripts/sanitize.sh                     all of it
#   SELM_SANITIZE=address bash scripts/sanitize.sh
#   SELM_FUZZ_CASES=20000 bash scripts/sanitize.sh   longer fuzzing (default 1000 per harness)
# SELM_BUILD_JOBS sets the parallel jobs (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SELM_BUILD_JOBS:-$(nproc)}
sanitizers=${SELM_SANITIZE:-address,undefined}

cmake -S . -B build-sanitize -DSELM_SANITIZE="$sanitizers" >/dev/null
cmake --build build-sanitize -j "$jobs"

# halt_on_error and the build's -fno-sanitize-recover=all make every report end the process with
# a failure; detect_leaks needs ptrace-free LeakSanitizer, which containers usually allow.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Instrumented code runs several times slower: fewer mutated cases per harness than the normal
# build's suite runs, so that the whole check stays within a few minutes.
export SELM_FUZZ_CASES=${SELM_FUZZ_CASES:-1000}
ctest --test-dir build-sanitize --output-on-failure -j "$jobs"
