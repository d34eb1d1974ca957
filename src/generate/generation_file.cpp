#include "selm/generate/generation_file.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "selm/parallel/sharded_jsonl.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/progress.hpp"
#include "selm/util/stop_request.hpp"

namespace selm {

std::string response_text(const ChatFormatter& formatter, const GeneratedSequence& sequence) {
  std::string text = formatter.decode_response(sequence.token_ids);
  if (sequence.finish_reason == "stop" && !sequence.stop_string.empty()) {
    const std::size_t at = text.find(sequence.stop_string);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

Generator response_generator(LanguageModel& lm, const SamplingConfig& sampling) {
  const ChatFormatter& formatter = *lm.formatter;
  return Generator(lm.model, sampling, formatter.stop_ids(),
                   [&formatter](const std::vector<std::int64_t>& ids) { return formatter.decode_response(ids); });
}

GenerationFileResult generate_to_file(Generator& generator, const ChatFormatter& formatter,
                                      const std::vector<std::vector<std::int64_t>>& prompt_ids,
                                      const std::vector<nlohmann::json>& prompt_values, const fs::path& out,
                                      const GenerationFileOptions& options) {
  const bool resume = options.resume;
  const std::int64_t first_prompt_index = options.first_prompt_index;
  const auto start = std::chrono::steady_clock::now();
  const SamplingConfig& sampling = generator.config();
  const auto num_prompts = static_cast<std::int64_t>(prompt_ids.size());
  GenerationFileResult result;
  result.prompts = num_prompts;

  // A job's ranks share the chunks out (chunk k to rank k mod N), so that every batch holds the
  // same sequences as in one process, and rank 0 merges their shards in (prompt, sample) order:
  // the file one process writes.
  const ParallelContext& parallel = options.parallel;
  const RecordPosition position = [&](const nlohmann::json& record) -> std::optional<std::int64_t> {
    const std::int64_t prompt = record.value("prompt_index", std::int64_t{-1});
    const std::int64_t sample = record.value("sample_index", std::int64_t{-1});
    if (prompt < 0 || prompt >= num_prompts || sample < 0 || sample >= sampling.num_samples) return std::nullopt;
    return prompt * sampling.num_samples + sample;
  };
  if (resume) merge_shards(out, position, parallel, options.label + ": merging the shards of an earlier start");

  std::set<std::pair<std::int64_t, std::int64_t>> written;  // (prompt, sample) already in the file
  if (resume && fs::exists(out)) {
    for (const auto& [line, record] : read_jsonl(out, /*tolerate_partial_tail=*/true)) {
      (void)line;
      written.emplace(record.value("prompt_index", std::int64_t{-1}), record.value("sample_index", std::int64_t{-1}));
    }
  } else {
    remove_with_shards(out, parallel, options.label + ": starting afresh");
  }
  auto prompt_complete = [&](std::int64_t index) {
    for (std::int64_t sample = 0; sample < sampling.num_samples; ++sample) {
      if (written.count({index, sample}) == 0) return false;
    }
    return true;
  };

  // A chunk is a few batches: small enough that a kill loses little, large enough to batch well.
  const std::int64_t chunk = std::max<std::int64_t>(1, sampling.batch_size * 4 / sampling.num_samples);
  std::vector<std::pair<std::int64_t, std::int64_t>> pending_chunks;
  std::int64_t owned_prompts = 0;  // with several ranks already_done counts this rank's chunks only
  for (std::int64_t begin = 0; begin < num_prompts; begin += chunk) {
    const std::int64_t end = std::min(num_prompts, begin + chunk);
    if (!parallel.owns(begin / chunk)) continue;
    owned_prompts += end - begin;
    bool complete = true;
    for (std::int64_t index = begin; index < end; ++index) {
      if (prompt_complete(index)) ++result.already_done;
      else complete = false;
    }
    if (!complete) pending_chunks.emplace_back(begin, end);
  }

  std::optional<JsonlWriter> writer(std::in_place, rank_output_path(out, parallel));
  Progress progress(options.label, owned_prompts - result.already_done, "prompts", parallel);
  for (const auto& [begin, end] : pending_chunks) {
    std::vector<std::vector<std::int64_t>> chunk_prompts(prompt_ids.begin() + begin, prompt_ids.begin() + end);
    std::vector<std::int64_t> chunk_indices;
    for (std::int64_t index = begin; index < end; ++index) chunk_indices.push_back(first_prompt_index + index);
    std::int64_t newly_done = 0;
    for (std::int64_t index = begin; index < end; ++index) newly_done += prompt_complete(index) ? 0 : 1;
    for (GeneratedSequence& sequence : generator.generate(chunk_prompts, chunk_indices)) {
      const std::int64_t index = sequence.prompt_index - first_prompt_index;
      result.generated_tokens += static_cast<std::int64_t>(sequence.token_ids.size());
      if (written.count({index, sequence.sample_index}) != 0) continue;
      writer->write({{"prompt_index", index},
                    {"sample_index", sequence.sample_index},
                    {"prompt", prompt_values[static_cast<std::size_t>(index)]},
                    {"response", response_text(formatter, sequence)},
                    {"token_ids", sequence.token_ids},
                    {"logprob", sequence.logprob},
                    {"finish_reason", sequence.finish_reason},
                    {"prompt_tokens", sequence.prompt_tokens}});
    }
    char status[64];
    std::snprintf(status, sizeof(status), "%.1f tok/s",
                  static_cast<double>(result.generated_tokens) / std::max(1e-9, progress.elapsed_seconds()));
    progress.advance(newly_done, status);
    if (stop_requested()) {
      throw StopRequested(options.label + ": stopped by " + stop_signal_name() + "; " + out.string() +
                          " keeps the finished chunks; rerun the same command to resume");
    }
  }
  char status[96];
  std::snprintf(status, sizeof(status), "%lld tokens, %.1f tok/s", static_cast<long long>(result.generated_tokens),
                static_cast<double>(result.generated_tokens) / std::max(1e-9, progress.elapsed_seconds()));
  progress.finish(status);
  writer.reset();
  if (parallel.is_distributed()) merge_shards(out, position, parallel, options.label + ": merging the ranks' shards");
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace selm
