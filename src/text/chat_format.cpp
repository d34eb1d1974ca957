#include "selm/text/chat_format.hpp"

#include <algorithm>

#include "selm/util/error.hpp"

namespace selm {

ChatFormatter::ChatFormatter(const Tokenizer& tokenizer, ChatTemplate chat_template, std::string system_prompt)
    : tokenizer_(&tokenizer),
      chat_template_(std::move(chat_template)),
      system_prompt_(std::move(system_prompt)),
      stop_ids_(chat_template_.stop_ids()) {
  const std::string& prefix = chat_template_.response_prefix();
  if (!prefix.empty()) {
    std::vector<std::int64_t> with_special = tokenizer_->encode_with_special_tokens(prefix);
    if (with_special != tokenizer_->encode(prefix)) special_prefix_ids_ = std::move(with_special);
  }
}

void ChatFormatter::add_stop_ids(const std::vector<std::int64_t>& ids) {
  for (const std::int64_t id : ids)
    if (std::find(stop_ids_.begin(), stop_ids_.end(), id) == stop_ids_.end()) stop_ids_.push_back(id);
}

std::vector<ChatMessage> ChatFormatter::with_system_prompt(const std::vector<ChatMessage>& messages) const {
  if (system_prompt_.empty() || chat_template_.name() == "plain") return messages;
  if (!messages.empty() && messages.front().role == "system") return messages;
  std::vector<ChatMessage> result;
  result.reserve(messages.size() + 1);
  result.push_back({"system", system_prompt_});
  result.insert(result.end(), messages.begin(), messages.end());
  return result;
}

std::string ChatFormatter::render_prompt(const std::vector<ChatMessage>& messages) const {
  return chat_template_.render(with_system_prompt(messages), /*add_generation_prompt=*/true);
}

std::vector<std::int64_t> ChatFormatter::encode_prompt(const std::vector<ChatMessage>& messages) const {
  const std::string text = render_prompt(messages);
  std::vector<std::int64_t> ids;
  const std::int64_t bos = tokenizer_->bos_id();
  if (!chat_template_.is_model_template() && tokenizer_->config().add_bos_token && bos >= 0) {
    const std::string bos_text = tokenizer_->id_to_piece(bos);
    if (text.compare(0, bos_text.size(), bos_text) != 0) ids.push_back(bos);
  }
  const auto body = tokenizer_->encode_with_special_tokens(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::vector<std::int64_t> ChatFormatter::encode_response(const std::string& response) const {
  std::vector<std::int64_t> ids;
  if (special_prefix_ids_.empty()) {
    ids = tokenizer_->encode_continuation(chat_template_.response_prefix() + response);
  } else {
    ids = special_prefix_ids_;
    const std::vector<std::int64_t> body = tokenizer_->encode_continuation(response);
    ids.insert(ids.end(), body.begin(), body.end());
  }
  ids.push_back(chat_template_.end_of_turn_id());
  return ids;
}

std::string ChatFormatter::decode_response(const std::vector<std::int64_t>& ids) const {
  const auto& stops = stop_ids_;
  auto begin = ids.begin();
  const auto end = std::find_if(ids.begin(), ids.end(),
                                [&](std::int64_t id) { return std::find(stops.begin(), stops.end(), id) != stops.end(); });
  if (!special_prefix_ids_.empty() && end - begin >= static_cast<std::ptrdiff_t>(special_prefix_ids_.size()) &&
      std::equal(special_prefix_ids_.begin(), special_prefix_ids_.end(), begin))
    begin += static_cast<std::ptrdiff_t>(special_prefix_ids_.size());
  std::string text = tokenizer_->decode_continuation(std::vector<std::int64_t>(begin, end));
  const std::string& prefix = chat_template_.response_prefix();
  if (special_prefix_ids_.empty() && !prefix.empty() && text.compare(0, prefix.size(), prefix) == 0)
    text.erase(0, prefix.size());
  return text;
}

std::vector<ChatMessage> parse_chat_messages(const nlohmann::json& value, const std::string& file, std::size_t line,
                                             const std::string& key) {
  if (!value.is_array()) throw_input_error(file, line, key + ": must be a list of {\"role\", \"content\"} objects");
  std::vector<ChatMessage> messages;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string element = key + "[" + std::to_string(i) + "]";
    const nlohmann::json& message = value[i];
    if (!message.is_object()) throw_input_error(file, line, element + ": must be an object with \"role\" and \"content\"");
    for (const char* field : {"role", "content"}) {
      if (!message.contains(field)) throw_input_error(file, line, element + "." + field + ": missing");
      if (!message[field].is_string()) throw_input_error(file, line, element + "." + field + ": must be a string");
    }
    ChatMessage parsed{message["role"].get<std::string>(), message["content"].get<std::string>()};
    if (parsed.role != "system" && parsed.role != "user" && parsed.role != "assistant")
      throw_input_error(file, line, element + ".role: unknown role '" + parsed.role + "' (expected system, user or assistant)");
    messages.push_back(std::move(parsed));
  }
  if (messages.empty()) throw_input_error(file, line, key + ": must not be empty");
  return messages;
}

std::vector<ChatMessage> parse_prompt_record(const nlohmann::json& record, const std::string& file, std::size_t line) {
  if (!record.is_object()) throw_input_error(file, line, "record must be a JSON object with \"prompt\" or \"messages\"");
  if (record.contains("messages")) return parse_chat_messages(record["messages"], file, line, "messages");
  if (!record.contains("prompt")) throw_input_error(file, line, "record needs a \"prompt\" string or a \"messages\" list");
  const nlohmann::json& prompt = record["prompt"];
  if (prompt.is_string()) return {{"user", prompt.get<std::string>()}};
  if (prompt.is_array()) return parse_chat_messages(prompt, file, line, "prompt");
  throw_input_error(file, line, "prompt: must be a string or a list of messages");
}

}  // namespace selm
