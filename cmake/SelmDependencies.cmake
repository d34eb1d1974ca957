# Finds every third-party dependency once. All of them are Debian bookworm packages that
# scripts/setup.sh installs; GPU users point CMAKE_PREFIX_PATH at their own LibTorch 2.x.
find_package(Threads REQUIRED)
find_package(Torch REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
# c10d's Gloo process group: LibTorch has the code, libgloo-dev the headers it includes.
# A LibTorch from a PyTorch wheel carries Gloo inside libtorch_cpu and its headers beside its own.
find_package(Gloo QUIET CONFIG)
if(NOT TARGET gloo)
  find_path(SELM_GLOO_INCLUDE_DIR gloo/config.h HINTS ${TORCH_INCLUDE_DIRS} REQUIRED)
  add_library(gloo INTERFACE IMPORTED)
  set_target_properties(gloo PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${SELM_GLOO_INCLUDE_DIR})
endif()
find_package(CLI11 QUIET CONFIG)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${CLI11_INCLUDE_DIR})
endif()

# SentencePiece ships no CMake package on Debian: locate the headers and both libraries.
find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h REQUIRED)
find_library(SENTENCEPIECE_LIBRARY sentencepiece REQUIRED)
find_library(SENTENCEPIECE_TRAIN_LIBRARY sentencepiece_train REQUIRED)
add_library(sentencepiece::sentencepiece INTERFACE IMPORTED)
set_target_properties(sentencepiece::sentencepiece PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES ${SENTENCEPIECE_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES "${SENTENCEPIECE_TRAIN_LIBRARY};${SENTENCEPIECE_LIBRARY}")

# HTTP client of the http judge (and the local server of its tests). Debian's cpp-httplib is a
# compiled library whose header must see the feature macros it was built with (OpenSSL, zlib,
# brotli), so they are taken from its pkg-config file; upstream's header-only httplib.h is the
# fallback, with https only when OpenSSL is found.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(CPPHTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
add_library(selm::httplib INTERFACE IMPORTED)
if(TARGET PkgConfig::CPPHTTPLIB)
  set_target_properties(selm::httplib PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::CPPHTTPLIB)
else()
  find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
  find_package(OpenSSL QUIET)
  set_target_properties(selm::httplib PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${HTTPLIB_INCLUDE_DIR})
  if(OpenSSL_FOUND)
    set_target_properties(selm::httplib PROPERTIES
      INTERFACE_COMPILE_DEFINITIONS CPPHTTPLIB_OPENSSL_SUPPORT
      INTERFACE_LINK_LIBRARIES "OpenSSL::SSL;OpenSSL::Crypto")
  endif()
endif()

# Which OpenBLAS serves LibTorch's matmul. Debian's libtorch_cpu needs `libblas.so.3`, which the
# alternatives system points at the pthreads build of OpenBLAS by default. That build keeps its own
# thread pool beside LibTorch's OpenMP pool; both spin on every core, and on a small machine they
# fight (decoding 3x, training 2x slower than with one thread). OpenBLAS's OpenMP build instead
# runs on LibTorch's own OpenMP threads (and runs serially inside ATen's parallel regions), so
# the executables load it first: an RPATH (DT_RPATH, which unlike DT_RUNPATH also applies to the
# libraries that libtorch_cpu loads) names its directory. SELM_BLAS_DIR= (empty) turns this off;
# util/cpu_threads.cpp reports which build was loaded and copes with the pthreads one.
set(SELM_BLAS_DIR_DEFAULT "")
if(CMAKE_LIBRARY_ARCHITECTURE AND EXISTS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp/libblas.so.3)
  set(SELM_BLAS_DIR_DEFAULT /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
endif()
set(SELM_BLAS_DIR "${SELM_BLAS_DIR_DEFAULT}" CACHE PATH
    "Directory whose libblas.so.3 and liblapack.so.3 the executables load first (empty: the system's)")
if(SELM_BLAS_DIR)
  message(STATUS "selm: BLAS from ${SELM_BLAS_DIR}")
else()
  message(STATUS "selm: BLAS from the system's libblas.so.3 (install libopenblas0-openmp for the shared thread pool)")
endif()

# tokenizer.json support: PCRE2 (UTF/UCP regexes of the pre-tokenizers, with \p{L} classes and
# lookahead) and utf8proc (the NFC/NFKC normalizers).
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
