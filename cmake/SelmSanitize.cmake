# The sanitizer build (-DSELM_SANITIZE=address,undefined): the torch-free parsers alone, with the
# fuzz suite and the unit tests of the parsers, so that it fits beside the normal build in CI.
# A whole-library sanitizer build would instrument LibTorch's templates in every source and
# take far longer than the parsers, which read every byte that comes from outside (config files,
# datasets, judge replies, Hugging Face files) and are where memory errors would come from.
# LibTorch is not even looked for: a source of the list below that starts to need it fails here.
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(CLI11 QUIET CONFIG)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${CLI11_INCLUDE_DIR})
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(CPPHTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
add_library(selm::httplib INTERFACE IMPORTED)
if(TARGET PkgConfig::CPPHTTPLIB)
  set_target_properties(selm::httplib PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::CPPHTTPLIB)
else()
  find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
  set_target_properties(selm::httplib PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${HTTPLIB_INCLUDE_DIR})
endif()
# torch/version.h alone (config.hpp reaches the version macros through the runtime options).
find_path(SELM_TORCH_VERSION_INCLUDE_DIR torch/version.h
          PATH_SUFFIXES include/torch/csrc/api/include torch/csrc/api/include REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

# -O0 -g1: the sources are template-heavy (JSON, YAML), and instrumented they compile three times
# faster than at -O1 -g while the fuzz cases still run in seconds; line tables are enough for the
# reports' stack traces. A report stops the process (no recovery), so CTest sees a failure.
# The build type's own flags (-O3 -DNDEBUG of Release) would override or disable the checks: a
# build type without flags, so asserts stay on and the options below decide.
set(CMAKE_BUILD_TYPE Sanitize CACHE STRING "Build type" FORCE)
string(REPLACE "," ";" SELM_SANITIZERS "${SELM_SANITIZE}")
list(JOIN SELM_SANITIZERS "," SELM_SANITIZE_FLAG)
add_compile_options(-fsanitize=${SELM_SANITIZE_FLAG} -fno-omit-frame-pointer -fno-sanitize-recover=all -O0 -g1)
# parallel_context.cpp also holds the collectives, which call LibTorch's process group: no parser
# calls them, and with a section per function the linker drops them, so the link needs no torch.
add_compile_options(-ffunction-sections -fdata-sections)
add_link_options(-fsanitize=${SELM_SANITIZE_FLAG} -Wl,--gc-sections)
message(STATUS "selm: sanitizer build (${SELM_SANITIZE_FLAG}) of the torch-free parsers only")

# The parsers and what they call. Each source must reach no LibTorch header and call nothing
# defined in a LibTorch source, or the test executables would not link.
set(SELM_PARSER_SOURCES
  src/config/config.cpp src/data/records.cpp src/eval/eval_config.cpp
  src/generate/generation_record.cpp src/generate/sampling_config.cpp src/judge/command_judge.cpp src/judge/http_judge.cpp
  src/judge/judge.cpp src/judge/judge_config.cpp src/judge/judge_file.cpp src/judge/judgment.cpp
  src/judge/judgment_cache.cpp src/judge/lexicon_judge.cpp src/judge/pairwise.cpp
  src/model/llama_config.cpp src/model/placement_spec.cpp src/online/online_config.cpp
  src/online/round_settings.cpp src/sweep/sweep_spec.cpp src/sweep/sweep_plan.cpp
  src/tasks/task_config.cpp src/train/lr_schedule.cpp src/train/sft_config.cpp
  src/util/error.cpp src/util/files.cpp src/util/progress.cpp src/util/system.cpp
  src/util/sha256.cpp src/util/subprocess.cpp src/util/stop_request.cpp
)
foreach(optional src/model/safetensors_header.cpp src/util/json_depth.cpp src/util/file_lock.cpp)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${optional})
    list(APPEND SELM_PARSER_SOURCES ${optional})
  endif()
endforeach()
list(TRANSFORM SELM_PARSER_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
file(GLOB SELM_TEXT_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/text/*.cpp)
list(APPEND SELM_PARSER_SOURCES ${SELM_TEXT_SOURCES})
# The readers of the run's JSONL files (prompts, judgments) and what they call.
foreach(source src/online/train_prompts.cpp src/train/shuffle.cpp src/parallel/sharded_jsonl.cpp
        src/parallel/parallel_context.cpp src/train/train_config.cpp src/train/lora_config.cpp)
  list(APPEND SELM_PARSER_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${source})
endforeach()

add_library(selm_log OBJECT src/util/log.cpp)
target_include_directories(selm_log PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(selm_log PRIVATE spdlog::spdlog)
selm_enable_warnings(selm_log)

add_library(selm_parsers STATIC ${SELM_PARSER_SOURCES} $<TARGET_OBJECTS:selm_log>)
target_include_directories(selm_parsers PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                           PRIVATE ${PCRE2_INCLUDE_DIRS} ${UTF8PROC_INCLUDE_DIRS})
target_include_directories(selm_parsers SYSTEM PUBLIC ${SELM_TORCH_VERSION_INCLUDE_DIR})
target_link_libraries(selm_parsers PUBLIC yaml-cpp nlohmann_json::nlohmann_json CLI11::CLI11 selm::httplib
                      Threads::Threads ${CMAKE_DL_LIBS}
                      PRIVATE spdlog::spdlog ${PCRE2_LINK_LIBRARIES} ${UTF8PROC_LINK_LIBRARIES})
target_compile_definitions(selm_parsers PUBLIC SELM_VERSION="${PROJECT_VERSION}"
                           SELM_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
selm_enable_warnings(selm_parsers)
set_target_properties(selm_parsers PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
set_source_files_properties(src/text/hf_decoder.cpp src/text/hf_normalizer.cpp src/text/hf_pre_tokenizer.cpp
                            src/text/sentencepiece_tokenizer.cpp PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
# The SentencePiece shim is dlopen()ed with RTLD_DEEPBIND, which the sanitizer runtimes refuse:
# this build has no SentencePiece, and the tests that need it are not in it.
set_source_files_properties(src/text/sentencepiece_tokenizer.cpp PROPERTIES
  COMPILE_DEFINITIONS "SELM_SENTENCEPIECE_SHIM_PATH=\"/nonexistent/libselm_sentencepiece.so\"")

# The suites: tests/fuzz whole, and the unit tests of the parsers (sources that compile against
# selm_parsers). The helpers of test_support that run the `selm` binary are not used by them.
enable_testing()
add_library(selm_test_support STATIC tests/support/test_support.cpp)
target_link_libraries(selm_test_support PUBLIC selm_parsers GTest::gtest)
target_include_directories(selm_test_support PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/tests)
target_compile_definitions(selm_test_support PUBLIC SELM_BINARY="/nonexistent/selm"
                           SELM_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/tests/data")
selm_enable_warnings(selm_test_support)
add_library(selm_test_main OBJECT tests/support/gtest_main.cpp)
target_link_libraries(selm_test_main PUBLIC GTest::gtest)

set(SELM_PARSER_UNIT_TESTS
  config_enums_test.cpp config_load_test.cpp config_roles_test.cpp judge_command_test.cpp
  judge_http_test.cpp judge_lexicon_test.cpp model_llama_config_test.cpp model_safetensors_header_test.cpp sweep_test.cpp
  text_jinja_test.cpp text_hf_tokenizer_test.cpp util_subprocess_test.cpp util_jsonl_read_test.cpp
)
list(TRANSFORM SELM_PARSER_UNIT_TESTS PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/tests/unit/)
file(GLOB SELM_FUZZ_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/fuzz/*_test.cpp)
function(selm_add_sanitized_suite name label)
  add_executable(${name} ${ARGN} $<TARGET_OBJECTS:selm_test_main>)
  target_link_libraries(${name} PRIVATE selm_test_support GTest::gtest)
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8
                        UNITY_BUILD_UNIQUE_ID SELM_UNITY_ID)
  selm_enable_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} ${SELM_SANITIZED_TEST_ARGS})
  set_tests_properties(${name} PROPERTIES LABELS ${label} SKIP_RETURN_CODE 77 TIMEOUT 900
                       ENVIRONMENT OMP_NUM_THREADS=1)
endfunction()
selm_add_sanitized_suite(selm_fuzz_tests fuzz ${SELM_FUZZ_TESTS} tests/fuzz/fuzz_harness.cpp)
set_source_files_properties(tests/fuzz/fuzz_harness.cpp PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
# Without the `selm` binary: the tests that run it stay in the normal build.
set(SELM_SANITIZED_TEST_ARGS --gtest_filter=-ConfigCommand.*:OnlineSweep.DryRun*:OnlineSweep.BadSweepFiles*:OnlineSweep.RequiresAMode:OnlineSweep.Slurm*:OnlineSweep.Local*)
selm_add_sanitized_suite(selm_parser_unit_tests unit ${SELM_PARSER_UNIT_TESTS})
