// The fortunes task: strfile parsing and cleaning, the corpus on a hand-written folder, the
// seeded split, prompts and preference ordering, and prepare_task's cache (reuse, rebuild of an
// entry left without done.json) with a tiny model.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "selm/data/records.hpp"
#include "selm/judge/lexicon_judge.hpp"
#include "selm/tasks/fortunes.hpp"
#include "selm/tasks/task.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::TempDir;
using test::write_text;

TEST(TasksFortunesParse, SplitsEntriesOnPercentLines) {
  const std::string content = "First fortune.\n%\nSecond\nfortune, two lines.\n%\r\n\n%\n100% sure.\n%\n";
  const std::vector<std::string> entries = split_strfile_entries(content);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], "First fortune.\n");
  EXPECT_EQ(entries[1], "Second\nfortune, two lines.\n");
  EXPECT_EQ(entries[2], "100% sure.\n");  // a % inside a line is text; the blank entry is left out
  EXPECT_EQ(split_strfile_entries("No separator at the end").size(), 1u);
}

TEST(TasksFortunesParse, CleansAttributionOverstrikeAndWhitespace) {
  EXPECT_EQ(clean_fortune("He hated being thought of as one of those people\n\tthat wore armour.\n"
                          "\t\t-- Terry Pratchett, \"Night Watch\"\n"),
            "He hated being thought of as one of those people that wore armour.");
  // A wrapped attribution goes entirely; "--" inside a line stays.
  EXPECT_EQ(clean_fortune("A critic -- he hates all\ncreative people.\n-- Robert Heinlein, \"The\n\tLong Title\"\n"),
            "A critic -- he hates all creative people.");
  // Only the last "--" line starts the attribution.
  EXPECT_EQ(clean_fortune("He is unbiased\n-- he hates all creative people equally.\n\t\t-- Robert Heinlein\n"),
            "He is unbiased -- he hates all creative people equally.");
  EXPECT_EQ(clean_fortune("\t\t--Anonymous\n"), "--Anonymous");  // the first line is never an attribution
  EXPECT_EQ(clean_fortune("It's a very *__\b\bUN*lucky week.\n"), "It's a very *UN*lucky week.");
  EXPECT_EQ(clean_fortune("_\bB_\bo_\bl_\bd   move!\n"), "Bold move!");
  EXPECT_EQ(clean_fortune("  Spaces\t\tand\n\n  lines  \n"), "Spaces and lines");
  EXPECT_EQ(clean_fortune("Caf\xc3\xa9 au lait.\n"), "");  // non-ASCII
  EXPECT_EQ(clean_fortune("Bell\x07 ringing.\n"), "");    // control character
  EXPECT_EQ(clean_fortune(" \n\t\n"), "");
}

// A folder in the layout of /usr/share/games/fortunes.
void write_fortunes_dir(const fs::path& dir) {
  fs::create_directories(dir / "off");
  write_text(dir / "alpha",
             "A short one.\n%\n"                                    // 12 characters: too short
             "You will have a wonderful and happy day today.\n%\n"  // kept
             "Duplicate fortunes appear in several files.\n%\n"     // kept (first copy)
             "Caf\xc3\xa9 society is no place for a cookie.\n%\n"   // non-ASCII
             "This fortune is much too long to be kept because it goes on and on and on.\n"
             "\t\t-- Someone\n%\n");                               // 75 characters after cleaning: too long
  write_text(dir / "beta",
             "Duplicate fortunes appear in several files.\n%\n"  // duplicate
             "Beware of   the\tdog that\nbarks at noon.\n"
             "\t\t-- Old proverb\n");
  write_text(dir / "alpha.dat", "binary index, never read\n%\nNot a fortune from a dat file.\n");
  write_text(dir / "beta.u8", "Not a fortune from a u8 file either.\n");
  write_text(dir / "skipme", "An excluded file is never read at all.\n");
  write_text(dir / "off" / "rude", "Offensive folder entries are never read.\n");
}

TEST(TasksFortunesCorpus, ReadsFilesFiltersAndDeduplicates) {
  TempDir temp;
  write_fortunes_dir(temp.path());
  FortuneCorpusOptions options;
  options.directory = temp.path();
  options.exclude_files = {"skipme"};
  options.min_chars = 20;
  options.max_chars = 60;
  const FortuneCorpus corpus = read_fortune_corpus(options);
  EXPECT_EQ(corpus.files, (std::vector<std::string>{"alpha", "beta"}));
  ASSERT_EQ(corpus.fortunes.size(), 3u);
  EXPECT_EQ(corpus.fortunes[0].text, "You will have a wonderful and happy day today.");
  EXPECT_EQ(corpus.fortunes[0].source, "alpha:2");
  EXPECT_EQ(corpus.fortunes[1].text, "Duplicate fortunes appear in several files.");
  EXPECT_EQ(corpus.fortunes[1].source, "alpha:3");
  EXPECT_EQ(corpus.fortunes[2].text, "Beware of the dog that barks at noon.");
  EXPECT_EQ(corpus.fortunes[2].source, "beta:2");
  EXPECT_EQ(corpus.raw_entries, 7);
  EXPECT_EQ(corpus.dropped_length, 2);
  EXPECT_EQ(corpus.dropped_unusable, 1);
  EXPECT_EQ(corpus.dropped_duplicates, 1);
  EXPECT_EQ(corpus.content_sha256.size(), 64u);

  // The content hash follows the files' bytes.
  const std::string before = corpus.content_sha256;
  write_text(temp / "beta", "Beware of the cat that sleeps at noon.\n");
  EXPECT_NE(read_fortune_corpus(options).content_sha256, before);

  options.directory = temp / "missing";
  EXPECT_THROW(read_fortune_corpus(options), InputError);
}

std::vector<Fortune> numbered_fortunes(int count) {
  std::vector<Fortune> fortunes;
  for (int i = 0; i < count; ++i) fortunes.push_back({"fortune number " + std::to_string(i), "f:" + std::to_string(i)});
  return fortunes;
}

TEST(TasksFortunesSplit, IsSeededDisjointAndOrdered) {
  const std::vector<Fortune> fortunes = numbered_fortunes(200);
  const FortuneSplit first = split_fortunes(fortunes, 0.1, 7);
  const FortuneSplit again = split_fortunes(fortunes, 0.1, 7);
  const FortuneSplit other_seed = split_fortunes(fortunes, 0.1, 8);
  ASSERT_EQ(first.eval.size(), 20u);
  ASSERT_EQ(first.train.size(), 180u);
  std::vector<std::string> held_out;
  for (const Fortune& fortune : first.eval) held_out.push_back(fortune.source);
  std::vector<std::string> held_out_again;
  for (const Fortune& fortune : again.eval) held_out_again.push_back(fortune.source);
  std::vector<std::string> held_out_other;
  for (const Fortune& fortune : other_seed.eval) held_out_other.push_back(fortune.source);
  EXPECT_EQ(held_out, held_out_again);
  EXPECT_NE(held_out, held_out_other);
  // Disjoint, complete, and each side in corpus order.
  std::set<std::string> all;
  for (const auto* side : {&first.train, &first.eval}) {
    int previous = -1;
    for (const Fortune& fortune : *side) {
      const int number = std::stoi(fortune.source.substr(2));
      EXPECT_GT(number, previous);
      previous = number;
      all.insert(fortune.source);
    }
  }
  EXPECT_EQ(all.size(), 200u);
  // At least one held out, never all.
  EXPECT_EQ(split_fortunes(numbered_fortunes(3), 0.01, 1).eval.size(), 1u);
  EXPECT_EQ(split_fortunes(numbered_fortunes(3), 0.99, 1).train.size(), 1u);
}

TEST(TasksFortunesPrompts, PromptIsTheFirstWords) {
  const auto cut = split_prompt("A day for firm decisions!!!!! Or is it?", 4);
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->prompt, "A day for firm");
  EXPECT_EQ(cut->continuation, " decisions!!!!! Or is it?");
  EXPECT_EQ(cut->prompt + cut->continuation, "A day for firm decisions!!!!! Or is it?");
  const auto one_word = split_prompt("Advancement in position.", 1);
  ASSERT_TRUE(one_word.has_value());
  EXPECT_EQ(one_word->prompt, "Advancement");
  EXPECT_EQ(one_word->continuation, " in position.");
  EXPECT_FALSE(split_prompt("Advancement in position.", 3).has_value());  // nothing left to continue
  EXPECT_FALSE(split_prompt("Too short", 4).has_value());
}

TEST(TasksFortunesPrompts, ChosenIsTheHigherScoredContinuation) {
  const std::vector<Fortune> fortunes = {{"one two three good good good", "a:1"},
                                         {"four five six bad", "a:2"},
                                         {"seven eight nine fine fine", "a:3"},
                                         {"too short", "a:4"}};
  // Score = number of "good" minus number of "bad".
  const auto score = [](const std::string& text) {
    double total = 0;
    std::istringstream words(text);
    for (std::string word; words >> word;) total += word == "good" ? 1 : word == "bad" ? -1 : 0;
    return total;
  };
  const std::vector<FortunePreference> pairs = make_fortune_preferences(fortunes, 3, 11, score);
  ASSERT_EQ(pairs.size(), 3u);  // the fourth fortune has no continuation
  const std::vector<std::string> prompts = {"one two three", "four five six", "seven eight nine"};
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const FortunePreference& pair = pairs[i];
    EXPECT_EQ(pair.prompt, prompts[i]);
    EXPECT_EQ(pair.source, "a:" + std::to_string(i + 1));
    EXPECT_NE(pair.chosen, pair.rejected);
    EXPECT_GE(pair.chosen_score, pair.rejected_score);
    EXPECT_EQ(pair.chosen_score, score(pair.chosen));
    EXPECT_EQ(pair.rejected_score, score(pair.rejected));
    EXPECT_EQ(pair.chosen[0], ' ');
  }
  // The first fortune's own continuation (score 3) beats any other; the second's (-1) loses to any.
  EXPECT_EQ(pairs[0].chosen, " good good good");
  EXPECT_EQ(pairs[1].rejected, " bad");
  // Same seed, same pairs.
  const std::vector<FortunePreference> again = make_fortune_preferences(fortunes, 3, 11, score);
  for (std::size_t i = 0; i < pairs.size(); ++i) EXPECT_EQ(again[i].rejected, pairs[i].rejected);

  // On a tie the fortune's own continuation is chosen.
  const std::vector<Fortune> neutral = {{"a b c", "n:1"}, {"d e f", "n:2"}};
  const auto tied = make_fortune_preferences(neutral, 2, 3, [](const std::string&) { return 0.0; });
  ASSERT_EQ(tied.size(), 2u);
  EXPECT_EQ(tied[0].chosen, " c");
  EXPECT_EQ(tied[0].rejected, " f");
  EXPECT_EQ(tied[1].chosen, " f");
  EXPECT_EQ(tied[1].rejected, " c");
}

TEST(TasksFortunesPrompts, LexiconOrdersHappyOverSad) {
  const LexiconJudge judge(LexiconJudgeConfig{});
  const std::vector<Fortune> fortunes = {{"Today you will feel wonderful, happy and loved.", "l:1"},
                                         {"Today you will feel terrible, sad and lonely.", "l:2"}};
  const auto pairs =
      make_fortune_preferences(fortunes, 4, 5, [&judge](const std::string& text) { return judge.score(text); });
  ASSERT_EQ(pairs.size(), 2u);
  for (const FortunePreference& pair : pairs) {
    EXPECT_EQ(pair.chosen, " wonderful, happy and loved.");
    EXPECT_EQ(pair.rejected, " terrible, sad and lonely.");
    EXPECT_GT(pair.chosen_score, 0.5);
    EXPECT_LT(pair.rejected_score, -0.5);
  }
}


Config tiny_task_config(const TempDir& temp) {
  Config config;
  config.task.name = "fortunes";
  config.task.fortunes_dir = (temp / "fortunes").string();
  config.task.cache_dir = (temp / "cache").string();
  config.task.max_chars = 200;
  config.task.eval_fraction = 0.1;
  config.task.eval_prompts = 20;
  config.task.vocab_size = 300;
  config.task.hidden_size = 32;
  config.task.intermediate_size = 64;
  config.task.num_hidden_layers = 1;
  config.task.num_attention_heads = 2;
  config.task.num_key_value_heads = 2;
  config.task.max_position_embeddings = 64;
  config.task.sft_epochs = 2;
  config.task.sft_batch_size = 32;
  config.task.sft_learning_rate = 1e-2;
  config.task.sft_max_length = 48;
  config.task.validate(FieldChecker("task.", nullptr));
  return config;
}

TEST(TasksFortunesPrepare, PreparesReusesAndRebuildsAnIncompleteEntry) {
  TempDir temp;
  test::write_synthetic_fortunes(temp / "fortunes");
  const Config config = tiny_task_config(temp);
  TaskPrepareOptions quiet;
  quiet.show_progress = false;

  const TaskAssets first = prepare_task(config, quiet);
  EXPECT_TRUE(first.prepared_now);
  EXPECT_EQ(first.directory, fs::path(config.task.cache_dir) / ("fortunes-" + task_cache_key(config)));
  for (const fs::path& path : {first.model_dir / "config.json", first.model_dir / "model.safetensors",
                               first.model_dir / "tokenizer.model", first.tokenizer_path, first.train_file,
                               first.eval_file, first.sft_train_file, first.sft_eval_file, first.sft_eval_report,
                               first.directory / kTaskDoneFile})
    EXPECT_TRUE(fs::is_regular_file(path)) << path;
  EXPECT_FALSE(fs::exists(first.directory / "sft" / "checkpoint"));

  // 600 fortunes, 60 held out; every fortune has more than 4 words.
  EXPECT_EQ(read_jsonl(first.sft_train_file).size(), 540u);
  EXPECT_EQ(read_jsonl(first.sft_eval_file).size(), 60u);
  EXPECT_EQ(first.train_prompts, 540);
  EXPECT_EQ(first.eval_prompts, 20);
  const std::vector<PreferenceRecord> preferences = read_preference_file(first.train_file);
  ASSERT_EQ(preferences.size(), 540u);
  EXPECT_EQ(preferences[0].prompt.size(), 1u);
  std::istringstream prompt_words(preferences[0].prompt[0].content);
  int words = 0;
  for (std::string word; prompt_words >> word;) ++words;
  EXPECT_EQ(words, 4);
  EXPECT_EQ(preferences[0].chosen[0], ' ');
  const auto eval_prompts = read_jsonl(first.eval_file);
  ASSERT_EQ(eval_prompts.size(), 20u);
  EXPECT_TRUE(eval_prompts[0].second.at("prompt").is_string());

  // The model learned the corpus: the held-out perplexity falls far below the initial one,
  // which is close to the vocabulary size for a random model.
  EXPECT_GT(first.initial_perplexity, 150.0);
  EXPECT_LT(first.sft_perplexity, first.initial_perplexity / 4);
  const nlohmann::json report = nlohmann::json::parse(read_file(first.sft_eval_report));
  EXPECT_DOUBLE_EQ(report.at("perplexity").get<double>(), first.sft_perplexity);
  EXPECT_EQ(report.at("steps").get<std::int64_t>(), 2 * 17);  // ceil(540 / 32) per epoch

  // Reuse: nothing is rewritten.
  const auto model_time = fs::last_write_time(first.model_dir / "model.safetensors");
  const std::string done_before = read_file(first.directory / kTaskDoneFile);
  const TaskAssets second = prepare_task(config, quiet);
  EXPECT_FALSE(second.prepared_now);
  EXPECT_EQ(second.directory, first.directory);
  EXPECT_EQ(second.model_dir, first.model_dir);
  EXPECT_EQ(second.train_file, first.train_file);
  EXPECT_DOUBLE_EQ(second.sft_perplexity, first.sft_perplexity);
  EXPECT_EQ(second.train_prompts, first.train_prompts);
  EXPECT_EQ(fs::last_write_time(first.model_dir / "model.safetensors"), model_time);
  EXPECT_EQ(read_file(first.directory / kTaskDoneFile), done_before);

  // An entry without done.json (a killed preparation) is deleted and prepared again.
  fs::remove(first.directory / kTaskDoneFile);
  write_text(first.directory / "leftover.tmp", "partial");
  const TaskAssets third = prepare_task(config, quiet);
  EXPECT_TRUE(third.prepared_now);
  EXPECT_EQ(third.directory, first.directory);
  EXPECT_FALSE(fs::exists(first.directory / "leftover.tmp"));
  EXPECT_TRUE(fs::is_regular_file(first.directory / kTaskDoneFile));
  // Same seed, same result.
  EXPECT_NEAR(third.sft_perplexity, first.sft_perplexity, 1e-6 * first.sft_perplexity);
  EXPECT_EQ(read_file(third.train_file), read_file(first.train_file));

  // The CLI finds the entry in the cache.
  write_text(temp / "task.yaml", "task:\n  name: fortunes\n  fortunes_dir: " + config.task.fortunes_dir +
                                     "\n  cache_dir: " + config.task.cache_dir +
                                     "\n  max_chars: 200\n  eval_fraction: 0.1\n  eval_prompts: 20\n"
                                     "  vocab_size: 300\n  hidden_size: 32\n  intermediate_size: 64\n"
                                     "  num_hidden_layers: 1\n  num_attention_heads: 2\n  num_key_value_heads: 2\n"
                                     "  max_position_embeddings: 64\n  sft_epochs: 2\n  sft_learning_rate: 0.01\n"
                                     "  sft_max_length: 48\n");
  const test::CommandResult cli = test::run_selm({"task", "prepare", "-c", (temp / "task.yaml").string()});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("reused " + first.directory.string()), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find(first.model_dir.string()), std::string::npos) << cli.output;
}

TEST(TasksFortunesPrepare, KeyFollowsTheDecidingSettingsOnly) {
  TempDir temp;
  write_fortunes_dir(temp / "fortunes");
  Config config = tiny_task_config(temp);
  const std::string key = task_cache_key(config);
  EXPECT_EQ(key.size(), 16u);
  Config other_cache = config;
  other_cache.task.cache_dir = (temp / "elsewhere").string();
  EXPECT_EQ(task_cache_key(other_cache), key);
  Config other_words = config;
  other_words.task.prompt_words = 3;
  EXPECT_NE(task_cache_key(other_words), key);
  Config other_target = config;
  other_target.judge.lexicon.target = SentimentTarget::negative;
  EXPECT_NE(task_cache_key(other_target), key);
  write_text(temp / "fortunes" / "gamma", "A new file changes the corpus and so the key.\n");
  EXPECT_NE(task_cache_key(config), key);

  Config no_task = config;
  no_task.task.name = "";
  EXPECT_THROW(task_cache_key(no_task), InputError);
}

TEST(TasksFortunesPrepare, ApplyTaskFillsOnlyEmptyKeys) {
  TaskAssets assets;
  assets.model_dir = "cache/fortunes-x/model";
  assets.train_file = "cache/fortunes-x/train_prompts.jsonl";
  assets.eval_file = "cache/fortunes-x/eval_prompts.jsonl";
  assets.sft_train_file = "cache/fortunes-x/sft_train.jsonl";
  assets.sft_eval_file = "cache/fortunes-x/sft_eval.jsonl";
  Config config;
  const Config filled = apply_task(config, assets);
  EXPECT_EQ(filled.model.path, "cache/fortunes-x/model");
  EXPECT_EQ(filled.data.train_file, "cache/fortunes-x/train_prompts.jsonl");
  EXPECT_EQ(filled.data.eval_file, "cache/fortunes-x/eval_prompts.jsonl");
  EXPECT_EQ(filled.sft.train_file, "cache/fortunes-x/sft_train.jsonl");
  EXPECT_EQ(filled.tokenizer.chat_template, "plain");
  config.model.path = "my/model";
  config.data.eval_file = "my/eval.jsonl";
  config.tokenizer.chat_template = "zephyr";
  const Config kept = apply_task(config, assets);
  EXPECT_EQ(kept.model.path, "my/model");
  EXPECT_EQ(kept.data.train_file, "cache/fortunes-x/train_prompts.jsonl");
  EXPECT_EQ(kept.data.eval_file, "my/eval.jsonl");
  EXPECT_EQ(kept.tokenizer.chat_template, "zephyr");
}

}  // namespace
}  // namespace selm
