#!/usr/bin/env bash
# Configures and builds selm (Release) into ./build, incrementally.
#   bash scripts/build.sh                 everything: the library, `selm` and the tests (and the
#                                         real tokenizers the tests compare with, fetched once into
#                                         a cache by scripts/fetch_test_data.py)
#   bash scripts/build.sh selm            only the given targets (the quickstart needs just `selm`)
#   bash scripts/build.sh -DCMAKE_PREFIX_PATH=/opt/libtorch selm
# Arguments starting with -D go to CMake's configure step; the others name targets.
# SELM_BUILD_JOBS sets the parallel jobs (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SELM_BUILD_JOBS:-$(nproc)}
configure_args=()
targets=()
for arg in "$@"; do
  case "$arg" in
    -D*) configure_args+=("$arg") ;;
    *) targets+=(--target "$arg") ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  python3 scripts/fetch_test_data.py
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${configure_args[@]}"
cmake --build build -j "$jobs" "${targets[@]}"
