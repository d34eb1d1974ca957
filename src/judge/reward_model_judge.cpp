#include "selm/judge/reward_model_judge.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/device.hpp"
#include "selm/model/hf_model_dir.hpp"
#include "selm/model/llama_reward_model.hpp"
#include "selm/text/chat_format.hpp"
#include "selm/text/tokenizer.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/sha256.hpp"

namespace selm {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPathKey = "judge.reward_model.path";

// Bytes sampled from a weight file's data for its identity: enough to tell apart two
// checkpoints of one architecture (whose headers and sizes agree), cheap for a 7B model.
constexpr std::uint64_t kSampleBlocks = 16;
constexpr std::uint64_t kSampleBlockBytes = 64 * 1024;

std::string file_sha256(const fs::path& path) { return sha256_hex(read_file(path)); }

// Identity of one safetensors file without reading all of it: its size, its JSON header and
// kSampleBlocks blocks spread evenly over the data (the first and the last included).
nlohmann::json weight_file_identity(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open the weights");
  const std::uint64_t size = fs::file_size(path);
  unsigned char length_bytes[8] = {};
  if (size < 8 || !in.read(reinterpret_cast<char*>(length_bytes), 8)) {
    throw InputError(path.string() + ": too short for a safetensors file");
  }
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | length_bytes[i];
  if (header_length > size - 8) throw InputError(path.string() + ": header length past the end of the file");
  std::string header(header_length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_length));

  const std::uint64_t data_begin = 8 + header_length;
  const std::uint64_t data_size = size - data_begin;
  std::string samples;
  if (data_size <= kSampleBlocks * kSampleBlockBytes) {
    samples.resize(data_size);
    in.read(samples.data(), static_cast<std::streamsize>(data_size));
  } else {
    const std::uint64_t stride = (data_size - kSampleBlockBytes) / (kSampleBlocks - 1);
    std::string block(kSampleBlockBytes, '\0');
    for (std::uint64_t index = 0; index < kSampleBlocks; ++index) {
      in.seekg(static_cast<std::streamoff>(data_begin + index * stride));
      in.read(block.data(), static_cast<std::streamsize>(kSampleBlockBytes));
      samples += block;
    }
  }
  if (!in) throw InputError(path.string() + ": cannot read the weights");
  return {{"file", path.filename().string()},
          {"size", size},
          {"header_sha256", sha256_hex(header)},
          {"sample_sha256", sha256_hex(samples)}};
}

// The weight files of DIR, single-file or sharded, in a fixed order.
nlohmann::json weights_identity(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::array();
  if (fs::exists(dir / kSingleWeightsFile)) {
    files.push_back(weight_file_identity(dir / kSingleWeightsFile));
    return files;
  }
  std::vector<fs::path> shards;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("model-", 0) == 0 && entry.path().extension() == ".safetensors") shards.push_back(entry.path());
  }
  std::sort(shards.begin(), shards.end());
  files.push_back({{"file", kWeightsIndexFile}, {"sha256", file_sha256(dir / kWeightsIndexFile)}});
  for (const fs::path& shard : shards) files.push_back(weight_file_identity(shard));
  return files;
}

std::string directory_name(const fs::path& dir) {
  fs::path normal = fs::absolute(dir).lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();  // "dir/" -> "dir"
  return normal.filename().string();
}

}  // namespace

std::vector<std::int64_t> reward_model_input_ids(const std::vector<std::int64_t>& prompt_ids,
                                                 const std::vector<std::int64_t>& response_ids,
                                                 std::int64_t max_length, std::int64_t bos_id) {
  if (max_length < 1) throw InputError("key 'judge.reward_model.max_length': must be >= 1");
  const std::size_t limit = static_cast<std::size_t>(max_length);
  std::vector<std::int64_t> ids;
  ids.reserve(std::min(limit, prompt_ids.size() + response_ids.size()));
  if (prompt_ids.size() + response_ids.size() <= limit) {
    ids.insert(ids.end(), prompt_ids.begin(), prompt_ids.end());
    ids.insert(ids.end(), response_ids.begin(), response_ids.end());
    return ids;
  }
  const bool keep_bos = bos_id >= 0 && !prompt_ids.empty() && prompt_ids.front() == bos_id && limit >= 2;
  if (keep_bos) ids.push_back(bos_id);
  const std::size_t room = limit - ids.size();
  if (response_ids.size() >= room) {
    ids.insert(ids.end(), response_ids.begin(), response_ids.begin() + static_cast<std::ptrdiff_t>(room));
    return ids;
  }
  const std::size_t prompt_tail = room - response_ids.size();  // < prompt tokens after the BOS
  ids.insert(ids.end(), prompt_ids.end() - static_cast<std::ptrdiff_t>(prompt_tail), prompt_ids.end());
  ids.insert(ids.end(), response_ids.begin(), response_ids.end());
  return ids;
}

struct RewardModelJudge::Backend {
  Placement placement;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatFormatter> formatter;  // points at *tokenizer
  LlamaForSequenceClassification model{nullptr};
  std::int64_t padding_id = 0;
};

RewardModelJudge::RewardModelJudge(const RewardModelJudgeConfig& config)
    : config_(config), backend_(std::make_unique<Backend>()) {
  if (config.path.empty()) throw InputError(std::string("key '") + kPathKey + "': no reward model directory given");
  const fs::path dir(config.path);
  if (!fs::is_directory(dir)) {
    throw InputError(std::string("key '") + kPathKey + "': reward model directory '" + config.path + "' does not exist");
  }
  Backend& backend = *backend_;
  backend.placement =
      parse_placement(config.device, config.dtype, "judge.reward_model.device", "judge.reward_model.dtype");
  backend.tokenizer = load_tokenizer(dir);
  ChatTemplate chat_template = ChatTemplate::from_name(config.chat_template, *backend.tokenizer);
  const std::string template_name = chat_template.name();
  backend.formatter = std::make_unique<ChatFormatter>(*backend.tokenizer, std::move(chat_template));
  backend.model = load_reward_model(dir, backend.placement);
  const LlamaConfig& model_config = backend.model->config();
  if (backend.tokenizer->vocab_size() > model_config.vocab_size) {
    throw InputError(backend.tokenizer->model_path().string() + ": the tokenizer has " +
                     std::to_string(backend.tokenizer->vocab_size()) + " pieces but " +
                     (dir / kModelConfigFile).string() + " has vocab_size " + std::to_string(model_config.vocab_size));
  }
  // Pad slots are masked out, so any valid id will do; the model's pad id when it has one.
  backend.padding_id = model_config.pad_token_id.value_or(0);

  id_ = "reward_model:" + directory_name(dir);
  const fs::path tokenizer_config_path = backend.tokenizer->model_path().parent_path() / "tokenizer_config.json";
  nlohmann::json identity = {
      {"type", "reward_model"},
      {"config_sha256", file_sha256(dir / kModelConfigFile)},
      {"weights", weights_identity(dir)},
      {"tokenizer_sha256", file_sha256(backend.tokenizer->model_path())},
      {"tokenizer_config_sha256", fs::exists(tokenizer_config_path) ? file_sha256(tokenizer_config_path) : ""},
      {"chat_template", template_name},
      {"max_length", config.max_length},
      {"dtype", enum_name(config.dtype)},
  };
  config_hash_ = sha256_hex(identity.dump()).substr(0, 16);
}

RewardModelJudge::~RewardModelJudge() = default;

std::vector<std::int64_t> RewardModelJudge::input_ids(const std::string& prompt, const std::string& response) const {
  const std::vector<std::int64_t> prompt_ids = backend_->formatter->encode_prompt({ChatMessage{"user", prompt}});
  const std::vector<std::int64_t> response_ids = backend_->formatter->encode_response(response);
  return reward_model_input_ids(prompt_ids, response_ids, config_.max_length, backend_->tokenizer->bos_id());
}

std::vector<double> RewardModelJudge::score(const std::string& prompt, const std::vector<std::string>& responses) {
  std::vector<std::vector<std::int64_t>> sequences;
  sequences.reserve(responses.size());
  for (const std::string& response : responses) sequences.push_back(input_ids(prompt, response));
  return score_sequences(sequences);
}

std::vector<double> RewardModelJudge::score_sequences(const std::vector<std::vector<std::int64_t>>& sequences) {
  // Identical sequences are scored once: they must tie, whatever batch they would land in.
  std::map<std::vector<std::int64_t>, std::size_t> unique_index;
  std::vector<const std::vector<std::int64_t>*> unique_sequences;
  std::vector<std::size_t> sequence_to_unique(sequences.size());
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const auto [it, inserted] = unique_index.emplace(sequences[i], unique_sequences.size());
    if (inserted) unique_sequences.push_back(&sequences[i]);
    sequence_to_unique[i] = it->second;
  }
  // Longest first, so that each forward pass pads as little as possible.
  std::vector<std::size_t> by_length(unique_sequences.size());
  std::iota(by_length.begin(), by_length.end(), 0);
  std::stable_sort(by_length.begin(), by_length.end(), [&](std::size_t a, std::size_t b) {
    return unique_sequences[a]->size() > unique_sequences[b]->size();
  });

  torch::NoGradGuard no_grad;
  Backend& backend = *backend_;
  std::vector<double> unique_scores(unique_sequences.size());
  const std::size_t batch_size = static_cast<std::size_t>(config_.batch_size);
  for (std::size_t begin = 0; begin < by_length.size(); begin += batch_size) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t end = std::min(by_length.size(), begin + batch_size);
    const std::int64_t rows = static_cast<std::int64_t>(end - begin);
    const std::int64_t width = static_cast<std::int64_t>(unique_sequences[by_length[begin]]->size());
    torch::Tensor ids = torch::full({rows, width}, backend.padding_id, torch::kInt64);  // (B, T)
    torch::Tensor mask = torch::zeros({rows, width}, torch::kInt64);                 // (B, T)
    auto ids_access = ids.accessor<std::int64_t, 2>();
    auto mask_access = mask.accessor<std::int64_t, 2>();
    for (std::int64_t row = 0; row < rows; ++row) {
      const std::vector<std::int64_t>& sequence = *unique_sequences[by_length[begin + static_cast<std::size_t>(row)]];
      const std::int64_t offset = width - static_cast<std::int64_t>(sequence.size());  // left padding
      for (std::size_t t = 0; t < sequence.size(); ++t) {
        ids_access[row][offset + static_cast<std::int64_t>(t)] = sequence[t];
        mask_access[row][offset + static_cast<std::int64_t>(t)] = 1;
      }
    }
    const torch::Tensor scores = backend.model->forward(ids.to(backend.placement.device), mask.to(backend.placement.device))
                                     .select(1, 0)
                                     .to(torch::kFloat64)
                                     .cpu()
                                     .contiguous();  // (B)
    const double* values = scores.data_ptr<double>();
    for (std::int64_t row = 0; row < rows; ++row) unique_scores[by_length[begin + static_cast<std::size_t>(row)]] = values[row];
    record_request(false, true, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::vector<double> result(sequences.size());
  for (std::size_t i = 0; i < sequences.size(); ++i) result[i] = unique_scores[sequence_to_unique[i]];
  return result;
}

std::vector<Judgment> RewardModelJudge::rank_batch(const std::vector<JudgeRequest>& batch) {
  // Every candidate of the batch in one list, so that forward passes fill up across prompts.
  std::vector<std::vector<std::int64_t>> sequences;
  std::vector<std::size_t> first_sequence;  // per request: index of its first candidate
  for (const JudgeRequest& request : batch) {
    first_sequence.push_back(sequences.size());
    for (const std::string& candidate : request.candidates) sequences.push_back(input_ids(request.prompt, candidate));
  }
  std::vector<double> scores;
  try {
    scores = score_sequences(sequences);
  } catch (const std::exception& error) {
    // A backend failure (out of memory, a device error) fails the batch's judgments; it must
    // never turn into a ranking.
    record_request(false, false, 0.0);
    std::vector<Judgment> failed(batch.size(), failed_judgment(std::string("reward model forward failed: ") + error.what()));
    return failed;
  }
  std::vector<Judgment> judgments;
  judgments.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto begin = scores.begin() + static_cast<std::ptrdiff_t>(first_sequence[i]);
    judgments.push_back(judgment_from_scores(std::vector<double>(begin, begin + static_cast<std::ptrdiff_t>(batch[i].candidates.size()))));
  }
  return judgments;
}

}  // namespace selm
