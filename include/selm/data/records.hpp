// Training records read from JSONL (DESIGN.md "File formats"), validated line by line.
//
// Preferences: {"prompt", "chosen", "rejected", "reference_response"?} where prompt is a string or
// a message list and each response is a string or a message list ending with the assistant's
// turn (the UltraFeedback-binarized shape; then a missing "prompt" is the list minus that turn).
// Optional cached fields written by selm itself:
//   "reference_response_token_ids": [ids]   the generated ids of y_ref (ending with EOS when the
//                                            response ended there), so y_ref is never re-tokenised
//   "reference_logps": {"chosen": x, "rejected": y, "reference_response": z}
//                                            summed log-probs under the frozen reference
// SFT: {"prompt", "response"}, {"messages": [...]} (the last assistant turn is the response) or
// {"text": "..."} (loss on every token).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "selm/text/chat_template.hpp"

namespace selm {

namespace fs = std::filesystem;

// Summed log-probs of a record's responses under the frozen reference model.
struct ReferenceLogps {
  double chosen = 0;
  double rejected = 0;
  std::optional<double> reference_response;
};

struct PreferenceRecord {
  std::size_t line = 0;                 // 1-based line in the source file (for messages)
  std::vector<ChatMessage> prompt;
  std::string chosen;
  std::string rejected;
  std::optional<std::string> reference_response;                  // y_ref
  std::optional<std::vector<std::int64_t>> reference_response_ids; // y_ref's generated ids
  std::optional<ReferenceLogps> reference_logps;
};

// One record from its JSON. InputError "FILE:LINE: key 'chosen': ..." for a missing field, a
// response that is not a string (or message list), or an empty response.
PreferenceRecord parse_preference_record(const nlohmann::json& value, const std::string& file, std::size_t line);
std::vector<PreferenceRecord> read_preference_file(const fs::path& path);
nlohmann::json preference_record_to_json(const PreferenceRecord& record);

struct SftRecord {
  std::size_t line = 0;
  std::vector<ChatMessage> prompt;  // empty for text records
  std::string response;             // the whole text for text records
  bool is_text = false;             // {"text": ...}: loss on every token, no chat template
};

SftRecord parse_sft_record(const nlohmann::json& value, const std::string& file, std::size_t line);
std::vector<SftRecord> read_sft_file(const fs::path& path);

}  // namespace selm
