// Helpers shared by the test suites.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace selm::test {

namespace fs = std::filesystem;

// A fresh directory under the system temp folder, removed when the object dies (kept when the
// environment variable SELM_KEEP_TEST_DIRS is set, for debugging).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs the built `selm` binary with `args` (no shell: arguments are passed as they are).
CommandResult run_selm(const std::vector<std::string>& args);
// Runs any program with `args`, no shell.
CommandResult run_program(const std::string& program, const std::vector<std::string>& args);

void write_text(const fs::path& path, const std::string& text);
std::string read_text(const fs::path& path);

// Through the binary: trains a tokenizer (vocab 300) on synthetic_corpus(1500, corpus_seed) into
// DIR/tokenizer and creates a tiny Llama (2 layers, width 64, 4 heads, 2 kv heads) in DIR/model
// with the given init seed and initializer_range. Returns "" on success, else the failing
// command's output.
std::string make_tiny_model(const fs::path& dir, unsigned corpus_seed, int init_seed, double initializer_range);

// The message of the InputError that `fn` throws; a test failure (and "") when it throws none.
std::string input_error_of(const std::function<void()>& fn);

// Directory of the committed fixtures (tests/data).
fs::path test_data_dir();

// Directory of the real tokenizers fetched by scripts/fetch_test_data.py (too large for git):
// $SELM_TEST_DATA_CACHE, else $XDG_CACHE_HOME/selm/test-data, else ~/.cache/selm/test-data.
fs::path downloaded_test_data_dir();

// downloaded_test_data_dir()/tokenizers/NAME (qwen3, gemma3, deepseek_v3, llama2), holding its
// tokenizer.json and tokenizer_config.json. A test failure naming the fetch script when missing.
fs::path real_tokenizer_dir(const std::string& name);

// An English text of a few thousand words made up of sentences generated from a fixed seed:
// enough to train a small SentencePiece tokenizer in a test.
std::string synthetic_corpus(int sentences, unsigned seed);

// DIR/synthetic: fortunes (entries ended by "%" lines) of two synthetic_corpus(1200, 5) sentences
// each, enough to prepare the fortunes task with a 300-piece tokenizer.
void write_synthetic_fortunes(const fs::path& dir);

}  // namespace selm::test
