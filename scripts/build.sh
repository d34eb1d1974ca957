#!/usr/bin/env bash
# Configures and builds selm (Release) into ./build, incrementally.
# Extra arguments are passed to CMake's configure step (e.g. -DCMAKE_PREFIX_PATH=/opt/libtorch).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SELM_BUILD_JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$jobs"
