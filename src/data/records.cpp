#include "selm/data/records.hpp"

#include <nlohmann/json.hpp>

#include "selm/text/chat_format.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

[[noreturn]] void fail(const std::string& file, std::size_t line, const std::string& key, const std::string& problem) {
  throw_input_error(file, line, "key '" + key + "': " + problem);
}

// A response given as a string, or as a message list whose last turn is the assistant's.
// Returns the response text and, for lists, the conversation before it.
std::string parse_response(const nlohmann::json& record, const std::string& key, const std::string& file,
                           std::size_t line, std::vector<ChatMessage>* conversation_before) {
  if (!record.contains(key)) fail(file, line, key, "missing");
  const nlohmann::json& value = record.at(key);
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_array()) {
    std::vector<ChatMessage> messages = parse_chat_messages(value, file, line, key);
    if (messages.empty() || messages.back().role != "assistant") {
      fail(file, line, key, "a message list must end with the assistant's response");
    }
    text = messages.back().content;
    messages.pop_back();
    if (conversation_before != nullptr) *conversation_before = std::move(messages);
  } else {
    fail(file, line, key, std::string("expected a string or a message list, got ") + value.type_name());
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail(file, line, key, "empty response");
  return text;
}

double parse_number(const nlohmann::json& object, const std::string& key, const std::string& full_key,
                    const std::string& file, std::size_t line) {
  if (!object.contains(key)) fail(file, line, full_key, "missing");
  const auto& value = object.at(key);
  if (!value.is_number()) fail(file, line, full_key, std::string("expected a number, got ") + value.type_name());
  return value.get<double>();
}

template <class Record, class Parse>
std::vector<Record> read_records(const fs::path& path, Parse parse) {
  std::vector<Record> records;
  for (const auto& [line, value] : read_jsonl(path)) records.push_back(parse(value, path.string(), line));
  if (records.empty()) throw InputError(path.string() + ": no records");
  return records;
}

}  // namespace

PreferenceRecord parse_preference_record(const nlohmann::json& value, const std::string& file, std::size_t line) {
  if (!value.is_object()) throw_input_error(file, line, "expected a JSON object");
  PreferenceRecord record;
  record.line = line;
  std::vector<ChatMessage> chosen_context;
  std::vector<ChatMessage> rejected_context;
  record.chosen = parse_response(value, "chosen", file, line, &chosen_context);
  record.rejected = parse_response(value, "rejected", file, line, &rejected_context);
  if (value.contains("prompt")) {
    record.prompt = parse_prompt_record(value, file, line);
  } else if (!chosen_context.empty()) {
    record.prompt = chosen_context;
  } else {
    fail(file, line, "prompt", "missing (and 'chosen' is not a conversation that contains it)");
  }
  if (value.contains("reference_response") && !value.at("reference_response").is_null()) {
    record.reference_response = parse_response(value, "reference_response", file, line, nullptr);
  }
  if (value.contains("reference_response_token_ids")) {
    const auto& ids = value.at("reference_response_token_ids");
    if (!ids.is_array()) fail(file, line, "reference_response_token_ids", "expected a list of token ids");
    std::vector<std::int64_t> parsed;
    for (const auto& id : ids) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
        fail(file, line, "reference_response_token_ids", "expected non-negative integer token ids");
      }
      parsed.push_back(id.get<std::int64_t>());
    }
    if (!record.reference_response) fail(file, line, "reference_response_token_ids", "given without reference_response");
    record.reference_response_ids = std::move(parsed);
  }
  if (value.contains("reference_logps")) {
    const auto& logps = value.at("reference_logps");
    if (!logps.is_object()) fail(file, line, "reference_logps", "expected an object");
    ReferenceLogps cached;
    cached.chosen = parse_number(logps, "chosen", "reference_logps.chosen", file, line);
    cached.rejected = parse_number(logps, "rejected", "reference_logps.rejected", file, line);
    if (logps.contains("reference_response")) {
      cached.reference_response =
          parse_number(logps, "reference_response", "reference_logps.reference_response", file, line);
    }
    record.reference_logps = cached;
  }
  return record;
}

std::vector<PreferenceRecord> read_preference_file(const fs::path& path) {
  return read_records<PreferenceRecord>(path, parse_preference_record);
}

nlohmann::json preference_record_to_json(const PreferenceRecord& record) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& message : record.prompt) messages.push_back({{"role", message.role}, {"content", message.content}});
  nlohmann::json out = {{"prompt", messages}, {"chosen", record.chosen}, {"rejected", record.rejected}};
  if (record.reference_response) out["reference_response"] = *record.reference_response;
  if (record.reference_response_ids) out["reference_response_token_ids"] = *record.reference_response_ids;
  if (record.reference_logps) {
    nlohmann::json logps = {{"chosen", record.reference_logps->chosen}, {"rejected", record.reference_logps->rejected}};
    if (record.reference_logps->reference_response) logps["reference_response"] = *record.reference_logps->reference_response;
    out["reference_logps"] = logps;
  }
  return out;
}

SftRecord parse_sft_record(const nlohmann::json& value, const std::string& file, std::size_t line) {
  if (!value.is_object()) throw_input_error(file, line, "expected a JSON object");
  SftRecord record;
  record.line = line;
  if (value.contains("text")) {
    const auto& text = value.at("text");
    if (!text.is_string()) fail(file, line, "text", std::string("expected a string, got ") + text.type_name());
    record.response = text.get<std::string>();
    if (record.response.empty()) fail(file, line, "text", "empty text");
    record.is_text = true;
    return record;
  }
  if (value.contains("messages")) {
    record.response = parse_response(value, "messages", file, line, &record.prompt);
    if (record.prompt.empty()) fail(file, line, "messages", "needs at least one turn before the assistant's response");
    return record;
  }
  if (!value.contains("prompt")) fail(file, line, "prompt", "missing (an SFT record has prompt+response, messages or text)");
  record.prompt = parse_prompt_record(value, file, line);
  record.response = parse_response(value, "response", file, line, nullptr);
  return record;
}

std::vector<SftRecord> read_sft_file(const fs::path& path) { return read_records<SftRecord>(path, parse_sft_record); }

}  // namespace selm
