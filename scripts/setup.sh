#!/usr/bin/env bash
# Installs every Debian 12 package that selm's build, tests and main job need.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
# Works as root, or through sudo for another user.
#   bash scripts/setup.sh                 what the build, the tests and the quickstart need
#   bash scripts/setup.sh --with-pyref    also Debian's python3-torch, for the eager-PyTorch
#                                         reference of scripts/dev/bench_compare.py
set -euo pipefail

with_pyref=false
for arg in "$@"; do
  case "$arg" in
    --with-pyref) with_pyref=true ;;
    *) echo "setup.sh: unknown argument '$arg' (known: --with-pyref)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake g++ git pkg-config python3
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-openmp     # fast BLAS for LibTorch's CPU matmul (~20x over reference BLAS), on LibTorch's OpenMP threads
  libgloo-dev             # needed by the c10d headers (data parallelism)
  libsentencepiece-dev sentencepiece  # tokenizer library and its reference command-line tools
  libpcre2-dev libutf8proc-dev        # tokenizer.json: pre-tokenizer regexes, Unicode normalisation
  python3-jinja2          # the reference Jinja engine the chat-template tests compare with
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev           # logging (with Debian's external fmt)
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libcurl4-openssl-dev
  fortunes-min fortunes   # English text of the built-in quickstart corpus
  chromium                # headless browser: renders report.html in the report test (tests/integration/report_render_test.cpp)
)
if [ "$with_pyref" = true ]; then
  packages+=(python3-torch)  # the same LibTorch 1.13 behind Python (scripts/dev/pyref_bench.py)
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup.sh: run as root or install sudo" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages already installed"
else
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# LibTorch calls BLAS through libblas.so.3. selm's executables load OpenBLAS's OpenMP build from its
# own directory (cmake/SelmDependencies.cmake), whatever the alternatives system points at.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
if [ ! -e "/usr/lib/$arch/openblas-openmp/libblas.so.3" ]; then
  echo "setup.sh: warning: /usr/lib/$arch/openblas-openmp/libblas.so.3 is missing; CPU matmul will be slow" >&2
fi
