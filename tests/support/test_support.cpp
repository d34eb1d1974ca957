#include "support/test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "selm/util/error.hpp"

namespace selm::test {

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "selm-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  if (std::getenv("SELM_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

CommandResult run_program(const std::string& program, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execvp(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  CommandResult result;
  char buffer[4096];
  ssize_t count;
  while ((count = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0) result.output.append(buffer, count);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult run_selm(const std::vector<std::string>& args) { return run_program(SELM_BINARY, args); }

void write_text(const fs::path& path, const std::string& text) {
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

fs::path test_data_dir() { return SELM_TEST_DATA_DIR; }

fs::path downloaded_test_data_dir() {
  if (const char* explicit_dir = std::getenv("SELM_TEST_DATA_CACHE"); explicit_dir && *explicit_dir) return explicit_dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "selm" / "test-data";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "selm" / "test-data";
}

fs::path real_tokenizer_dir(const std::string& name) {
  const fs::path dir = downloaded_test_data_dir() / "tokenizers" / name;
  if (!fs::is_regular_file(dir / "tokenizer.json"))
    ADD_FAILURE() << dir.string() << "/tokenizer.json is missing: run python3 scripts/fetch_test_data.py "
                  << "(scripts/build.sh does when it builds the tests)";
  return dir;
}

std::string make_tiny_model(const fs::path& dir, unsigned corpus_seed, int init_seed, double initializer_range) {
  write_text(dir / "corpus.txt", synthetic_corpus(1500, corpus_seed));
  auto trained = run_selm({"tokenizer", "train", "--input", (dir / "corpus.txt").string(), "--vocab-size", "300",
                           "--out", (dir / "tokenizer").string()});
  if (trained.exit_code != 0) return trained.output;
  std::ostringstream model_yaml;
  model_yaml << "run:\n  seed: " << init_seed
             << "\narchitecture:\n  hidden_size: 64\n  intermediate_size: 128\n  num_hidden_layers: 2\n"
                "  num_attention_heads: 4\n  num_key_value_heads: 2\n  initializer_range: "
             << initializer_range << "\n";
  write_text(dir / "model.yaml", model_yaml.str());
  auto init = run_selm({"init", "-c", (dir / "model.yaml").string(), "--tokenizer",
                        (dir / "tokenizer" / "tokenizer.model").string(), "--out", (dir / "model").string()});
  return init.exit_code == 0 ? "" : init.output;
}

std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

std::string synthetic_corpus(int sentences, unsigned seed) {
  static const std::vector<std::string> subjects = {
      "the old sailor", "a quiet child", "my neighbour", "the small dog", "every teacher",
      "the tired baker", "a curious cat", "our captain", "the young painter", "a patient farmer"};
  static const std::vector<std::string> verbs = {
      "found", "painted", "carried", "remembered", "opened", "followed", "watched", "built",
      "praised", "forgot"};
  static const std::vector<std::string> objects = {
      "a bright lantern", "the wooden door", "a letter from home", "the green hills",
      "an empty basket", "the morning train", "a silver spoon", "the river bank",
      "a warm loaf of bread", "the broken clock"};
  static const std::vector<std::string> endings = {
      "before the rain began", "and smiled", "with great care", "at dawn", "without a word",
      "near the harbour", "in the garden", "after supper", "for the last time", "again"};
  std::mt19937 rng(seed);
  auto pick = [&rng](const std::vector<std::string>& words) -> const std::string& {
    return words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(rng)];
  };
  std::ostringstream text;
  for (int i = 0; i < sentences; ++i) {
    std::string sentence = pick(subjects) + " " + pick(verbs) + " " + pick(objects) + " " + pick(endings) + ".";
    sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
    text << sentence << "\n";
  }
  return text.str();
}

void write_synthetic_fortunes(const fs::path& dir) {
  fs::create_directories(dir);
  std::istringstream sentences(synthetic_corpus(1200, 5));
  std::string text;
  std::string first;
  std::string second;
  while (std::getline(sentences, first) && std::getline(sentences, second)) text += first + "\n" + second + "\n%\n";
  write_text(dir / "synthetic", text);
}

}  // namespace selm::test
