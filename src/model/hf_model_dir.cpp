#include "selm/model/hf_model_dir.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/safetensors.hpp"
#include "selm/model/safetensors_header.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

using nlohmann::json;

std::string shape_string(torch::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

void require_model_directory(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir.string() + ": model directory does not exist");
}

json read_json_file(const fs::path& path) { return parse_hf_json_text(read_file(path), path.string()); }

bool is_shard_file_name(const std::string& name) {
  static const std::regex pattern(R"(model-\d{5}-of-\d{5}\.safetensors)");
  return std::regex_match(name, pattern);
}

std::string shard_file_name(std::size_t index, std::size_t count) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return buffer;
}

// The weight files of a directory and which tensors each should hold.
struct WeightFiles {
  fs::path listing;                          // the file named in "missing tensor" messages
  std::vector<fs::path> files;               // safetensors files, in first-listed order
  std::map<std::string, fs::path> index_map;  // from the index: tensor -> shard (empty without)
};

WeightFiles find_weight_files(const fs::path& dir) {
  require_model_directory(dir);
  WeightFiles result;
  // transformers prefers the single file when both layouts are present, and so do we.
  const fs::path single = dir / kSingleWeightsFile;
  if (fs::exists(single)) {
    result.listing = single;
    result.files.push_back(single);
    return result;
  }
  const fs::path index_path = dir / kWeightsIndexFile;
  if (!fs::exists(index_path)) {
    if (fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json")) {
      throw InputError(dir.string() + ": missing model.safetensors: only PyTorch pickle weights (pytorch_model.bin) "
                       "are present, and selm reads safetensors only; convert them with transformers' "
                       "save_pretrained(..., safe_serialization=True)");
    }
    throw InputError(dir.string() + ": missing model weights: neither " + kSingleWeightsFile + " nor " +
                     kWeightsIndexFile + " exists");
  }
  result.listing = index_path;
  const SafetensorsIndex index = parse_safetensors_index(read_file(index_path), index_path.string());
  const std::string where = index_path.string() + ": ";
  for (const std::string& shard_name : index.shard_names) {
    const fs::path shard_path = dir / shard_name;
    // The error_code form: a name the file system refuses (too long, say) is a missing shard,
    // not an I/O failure.
    std::error_code error;
    if (!fs::exists(shard_path, error)) {
      const auto first_tensor = std::find_if(index.weight_map.begin(), index.weight_map.end(),
                                             [&](const auto& entry) { return entry.second == shard_name; });
      throw InputError(where + "shard " + shard_name + " (tensor " + first_tensor->first + ") does not exist in " +
                       dir.string());
    }
    result.files.push_back(shard_path);
  }
  for (const auto& [tensor_name, shard_name] : index.weight_map) result.index_map[tensor_name] = dir / shard_name;
  return result;
}

void remove_if_present(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

// Removes the model-NNNNN-of-MMMMM.safetensors files of `dir` that are not in `keep`.
void remove_stale_shards(const fs::path& dir, const std::set<std::string>& keep) {
  std::vector<fs::path> stale;  // collected first: removing while iterating is unspecified
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file_name = entry.path().filename().string();
    if (is_shard_file_name(file_name) && !keep.count(file_name)) stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) remove_if_present(path);
}

}  // namespace

LlamaConfig read_model_config(const fs::path& dir) {
  require_model_directory(dir);
  const fs::path path = dir / kModelConfigFile;
  if (!fs::exists(path)) throw InputError(dir.string() + ": missing " + kModelConfigFile);
  return llama_config_from_hf_json(read_json_file(path), path.string());
}

void write_model_config(const fs::path& dir, const LlamaConfig& config) {
  config.validate(FieldChecker("", nullptr));
  if (config.vocab_size <= 0) {
    throw InputError("key 'vocab_size': must be set (positive) before writing " + (dir / kModelConfigFile).string());
  }
  write_file_atomic(dir / kModelConfigFile, llama_config_to_hf_json(config).dump(2) + "\n");
}

void write_generation_config(const fs::path& dir, std::int64_t bos_token_id, std::int64_t eos_token_id,
                             std::optional<std::int64_t> pad_token_id) {
  json out = {{"bos_token_id", bos_token_id}, {"eos_token_id", eos_token_id}};
  if (pad_token_id) out["pad_token_id"] = *pad_token_id;
  write_file_atomic(dir / kGenerationConfigFile, out.dump(2) + "\n");
}

std::vector<std::int64_t> read_end_token_ids(const fs::path& dir) {
  std::vector<std::int64_t> ids;
  std::set<std::int64_t> seen;  // a set: a file may list any number of ids
  for (const char* file : {kGenerationConfigFile, kModelConfigFile}) {
    const fs::path path = dir / file;
    std::error_code error;
    if (!fs::is_regular_file(path, error)) continue;
    for (const std::int64_t id : hf_end_token_ids(read_json_file(path), path.string())) {
      if (seen.insert(id).second) ids.push_back(id);
    }
  }
  return ids;
}

void load_module_weights(torch::nn::Module& module, const fs::path& dir, const WeightLoadOptions& options) {
  const WeightFiles weight_files = find_weight_files(dir);

  std::vector<SafetensorsFile> files;
  files.reserve(weight_files.files.size());
  std::map<std::string, const SafetensorsFile*> stored;  // tensor name -> the file holding it
  for (const fs::path& path : weight_files.files) {
    files.emplace_back(path);
    for (const std::string& name : files.back().names()) {
      const auto [it, inserted] = stored.emplace(name, &files.back());
      if (!inserted) {
        throw InputError(path.string() + ": tensor '" + name + "' is also stored in " + it->second->path().string());
      }
    }
  }
  for (const auto& [name, shard] : weight_files.index_map) {
    const auto it = stored.find(name);
    if (it == stored.end() || it->second->path() != shard) {
      throw InputError(weight_files.listing.string() + ": tensor '" + name + "' is listed in " +
                       shard.filename().string() + ", which does not contain it");
    }
  }

  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) targets.emplace_back(item.key(), item.value());
  if (options.include_buffers) {
    for (const auto& item : module.named_buffers(/*recurse=*/true)) targets.emplace_back(item.key(), item.value());
  }

  // Check everything before copying anything, so a bad checkpoint leaves the module untouched.
  std::set<std::string> target_names;
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : targets) {
    target_names.insert(name);
    const auto it = stored.find(name);
    if (it == stored.end()) {
      if (!options.optional_names.count(name)) {
        missing.push_back(missing.empty() ? "'" + name + "' (shape " + shape_string(tensor.sizes()) + ")" : name);
      }
      continue;
    }
    const SafetensorsTensorInfo& info = it->second->info(name);
    if (info.shape != tensor.sizes().vec()) {
      throw InputError(it->second->path().string() + ": shape " + shape_string(info.shape) + " of tensor '" + name +
                       "' disagrees with " + kModelConfigFile + ", which implies " + shape_string(tensor.sizes()));
    }
  }
  if (!missing.empty()) {
    std::string message = weight_files.listing.string() + ": missing tensor " + missing.front() + ", which the model needs";
    if (missing.size() > 1) {
      message += " (and " + std::to_string(missing.size() - 1) + " more: " + missing[1];
      for (std::size_t i = 2; i < std::min<std::size_t>(missing.size(), 5); ++i) message += ", " + missing[i];
      message += missing.size() > 5 ? ", ...)" : ")";
    }
    throw InputError(message);
  }
  for (const auto& [name, file] : stored) {
    if (target_names.count(name)) continue;
    const bool ignored = std::any_of(options.ignored_suffixes.begin(), options.ignored_suffixes.end(),
                                     [&name = name](const std::string& suffix) {
                                       return name.size() >= suffix.size() &&
                                              name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
                                     });
    if (!ignored) {
      throw InputError(file->path().string() + ": unexpected tensor '" + name + "' (the model has no parameter of that name)");
    }
  }

  for (const auto& [name, tensor] : targets) {
    const auto it = stored.find(name);
    if (it != stored.end()) it->second->copy_into(name, tensor);
  }
}

void save_module_weights(torch::nn::Module& module, const fs::path& dir, std::int64_t max_shard_bytes,
                         const std::set<std::string>& skip_names) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (skip_names.count(item.key())) continue;
    tensors.emplace_back(item.key(), item.value().detach());
  }
  save_named_weights(std::move(tensors), dir, max_shard_bytes);
}

void save_named_weights(std::vector<std::pair<std::string, torch::Tensor>> tensors, const fs::path& dir,
                        std::int64_t max_shard_bytes) {
  if (max_shard_bytes <= 0) throw std::invalid_argument("save_named_weights: max_shard_bytes must be positive");
  std::int64_t total_bytes = 0;
  for (const auto& entry : tensors) {
    total_bytes += entry.second.numel() * static_cast<std::int64_t>(entry.second.element_size());
  }
  fs::create_directories(dir);
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};

  if (total_bytes <= max_shard_bytes) {
    save_safetensors(dir / kSingleWeightsFile, tensors, metadata);
    // The new file is in place before the old layout goes, and loaders prefer the single file,
    // so a crash in between still leaves a loadable directory.
    remove_if_present(dir / kWeightsIndexFile);
    remove_stale_shards(dir, {});
    return;
  }

  // Greedy packing in parameter order; a tensor larger than the limit gets a shard of its own.
  std::vector<std::vector<std::pair<std::string, torch::Tensor>>> shards(1);
  std::int64_t shard_bytes = 0;
  for (auto& entry : tensors) {
    const std::int64_t bytes = entry.second.numel() * static_cast<std::int64_t>(entry.second.element_size());
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(std::move(entry));
    shard_bytes += bytes;
  }

  json weight_map = json::object();
  std::set<std::string> written;
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string name = shard_file_name(i, shards.size());
    save_safetensors(dir / name, shards[i], metadata);
    written.insert(name);
    for (const auto& entry : shards[i]) weight_map[entry.first] = name;
  }
  const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  write_file_atomic(dir / kWeightsIndexFile, index.dump(2) + "\n");
  remove_if_present(dir / kSingleWeightsFile);
  remove_stale_shards(dir, written);
}

}  // namespace selm
