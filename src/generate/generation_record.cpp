#include "selm/generate/generation_record.hpp"

#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

std::vector<GenerationRecord> read_generation_file(const std::filesystem::path& path) {
  std::map<std::pair<std::int64_t, std::int64_t>, GenerationRecord> records;
  const std::string file = path.string();
  for (const auto& [line, value] : read_jsonl(path, /*tolerate_partial_tail=*/true)) {
    GenerationRecord record;
    try {
      record.prompt_index = value.at("prompt_index").get<std::int64_t>();
      record.sample_index = value.at("sample_index").get<std::int64_t>();
      record.response = value.at("response").get<std::string>();
      record.token_ids = value.at("token_ids").get<std::vector<std::int64_t>>();
      record.logprob = value.at("logprob").get<double>();
      record.finish_reason = value.value("finish_reason", std::string());
    } catch (const nlohmann::json::exception& error) {
      throw_input_error(file, line, std::string("malformed generation record: ") + error.what());
    }
    records[{record.prompt_index, record.sample_index}] = std::move(record);
  }
  std::vector<GenerationRecord> ordered;
  ordered.reserve(records.size());
  for (auto& entry : records) ordered.push_back(std::move(entry.second));
  return ordered;
}

}  // namespace selm
