#include "selm/text/chat_template.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "selm/text/jinja.hpp"
#include "selm/util/error.hpp"

namespace selm {
namespace {

// Jinja sources as transformers renders them (its environment sets trim_blocks and
// lstrip_blocks; these templates put every newline inside a string so neither matters).
constexpr const char* kZephyrJinja =
    R"({% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token + '\n' }})"
    R"({% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token + '\n' }})"
    R"({% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }})"
    R"({% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %})";

constexpr const char* kLlama2Jinja =
    R"({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %})"
    R"({% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %})"
    R"({% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %})"
    R"({{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %})"
    R"({% if loop.index0 == 0 and system_message != false %})"
    R"({% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %})"
    R"({% else %}{% set content = message['content'] %}{% endif %})"
    R"({% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }})"
    R"({% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})";

constexpr const char* kChatmlJinja =
    R"({% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }})"
    R"({% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})";

constexpr const char* kPlainJinja =
    R"({% for message in messages %}{% if not loop.first %}{{ '\n' }}{% endif %}{{ message['content'] }}{% endfor %})";

std::string strip(const std::string& text) {
  const char* whitespace = " \t\n\r\v\f";
  const auto first = text.find_first_not_of(whitespace);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(whitespace) - first + 1);
}

void check_role(const ChatMessage& message, std::size_t index) {
  if (message.role != "system" && message.role != "user" && message.role != "assistant")
    throw InputError("messages[" + std::to_string(index) + "].role: unknown role '" + message.role +
                     "' (expected system, user or assistant)");
}

}  // namespace

bool operator==(const ChatMessage& a, const ChatMessage& b) { return a.role == b.role && a.content == b.content; }

const std::vector<std::string>& ChatTemplate::builtin_names() {
  static const std::vector<std::string> names = {"zephyr", "llama2", "chatml", "plain"};
  return names;
}

ChatTemplate ChatTemplate::from_name(const std::string& name, const Tokenizer& tokenizer) {
  return from_name(name, tokenizer, tokenizer.config());
}

ChatTemplate ChatTemplate::from_name(const std::string& name, const Tokenizer& tokenizer, const TokenizerConfig& config) {
  std::string resolved = name;
  if (name == "auto") {
    const std::string& jinja = config.chat_template;
    // The Jinja that selm itself writes for a built-in template names that template exactly.
    std::string exact_match;
    for (const std::string& builtin : builtin_names()) {
      if (jinja.empty()) break;
      try {
        if (from_name(builtin, tokenizer, config).jinja() == jinja) exact_match = builtin;
      } catch (const InputError&) {
        // this template cannot work with this tokenizer, so it is not the one
      }
      if (!exact_match.empty()) break;
    }
    if (jinja.empty()) resolved = "plain";
    else if (!exact_match.empty()) resolved = exact_match;
    else return from_model_jinja(tokenizer, config);
  } else if (resolved != "zephyr" && resolved != "llama2" && resolved != "chatml" && resolved != "plain") {
    throw InputError("chat_template: unknown chat template '" + name + "' (known: auto, zephyr, llama2, chatml, plain)");
  }

  ChatTemplate chat_template;
  chat_template.name_ = resolved;
  const std::string model_file = tokenizer.model_path().string();
  const std::string model_name = tokenizer.model_path().filename().string();
  if (tokenizer.eos_id() < 0)
    throw_input_error(model_file, 0, "template " + resolved + " needs an end-of-sequence token; " + model_name + " has none");
  chat_template.eos_token_ = tokenizer.id_to_piece(tokenizer.eos_id());
  if (tokenizer.bos_id() >= 0) chat_template.bos_token_ = tokenizer.id_to_piece(tokenizer.bos_id());
  if (resolved == "llama2" && tokenizer.bos_id() < 0)
    throw_input_error(model_file, 0, "template llama2 needs a beginning-of-sequence token; " + model_name + " has none");

  if (resolved == "chatml") {
    chat_template.end_of_turn_token_ = "<|im_end|>";
    const auto id = tokenizer.token_to_id(chat_template.end_of_turn_token_);
    if (!id) throw_input_error(model_file, 0, "template chatml needs <|im_end|> as a single token; " + model_name + " has none");
    chat_template.end_of_turn_id_ = *id;
  } else {
    chat_template.end_of_turn_token_ = chat_template.eos_token_;
    chat_template.end_of_turn_id_ = tokenizer.eos_id();
  }
  chat_template.stop_ids_ = {chat_template.end_of_turn_id_};
  if (tokenizer.eos_id() != chat_template.end_of_turn_id_) chat_template.stop_ids_.push_back(tokenizer.eos_id());
  if (resolved == "llama2") chat_template.response_prefix_ = " ";
  return chat_template;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  for (std::size_t i = 0; i < messages.size(); ++i) check_role(messages[i], i);
  if (jinja_) {
    nlohmann::ordered_json context = nlohmann::ordered_json::object();
    nlohmann::ordered_json& listed = context["messages"] = nlohmann::ordered_json::array();
    for (const ChatMessage& message : messages) listed.push_back({{"role", message.role}, {"content", message.content}});
    context["add_generation_prompt"] = add_generation_prompt;
    for (const auto& [key, value] : special_tokens_.items()) context[key] = value;
    return jinja_->render(context);
  }
  std::string text;
  if (name_ == "zephyr") {
    for (const ChatMessage& message : messages)
      text += "<|" + message.role + "|>\n" + message.content + eos_token_ + "\n";
    if (add_generation_prompt) text += "<|assistant|>\n";
  } else if (name_ == "chatml") {
    for (const ChatMessage& message : messages)
      text += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n";
    if (add_generation_prompt) text += "<|im_start|>assistant\n";
  } else if (name_ == "plain") {
    for (std::size_t i = 0; i < messages.size(); ++i) text += (i == 0 ? "" : "\n") + messages[i].content;
  } else {  // llama2
    std::size_t first = 0;
    std::string system_block;
    const bool has_system = !messages.empty() && messages[0].role == "system";
    if (has_system) {
      system_block = "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n";
      first = 1;
    }
    for (std::size_t i = first; i < messages.size(); ++i) {
      const ChatMessage& message = messages[i];
      const bool user_turn = (i - first) % 2 == 0;
      if ((message.role == "user") != user_turn || message.role == "system")
        throw InputError("messages[" + std::to_string(i) + "].role: template llama2 needs an optional system message "
                         "first, then user and assistant turns alternating from user; got '" + message.role + "'");
      const std::string content = (i == first && has_system) ? system_block + message.content : message.content;
      if (message.role == "user") text += bos_token_ + "[INST] " + strip(content) + " [/INST]";
      else text += " " + strip(content) + " " + eos_token_;
    }
  }
  return text;
}

std::string ChatTemplate::jinja() const {
  if (jinja_) return jinja_source_;
  if (name_ == "zephyr") return kZephyrJinja;
  if (name_ == "llama2") return kLlama2Jinja;
  if (name_ == "chatml") return kChatmlJinja;
  return kPlainJinja;
}

namespace {

// Strings no real conversation contains, so that finding them in a rendering is unambiguous.
constexpr const char* kProbeUser = "selm-probe-question-5ba1";
constexpr const char* kProbeReply = "selm-probe-reply-5ba1";

// The variables transformers passes besides the conversation: its special_tokens_map (tokens
// that are unset are left out, so that `is defined` sees them as undefined).
nlohmann::json special_token_variables(const Tokenizer& tokenizer, const TokenizerConfig& config) {
  nlohmann::json variables = nlohmann::json::object();
  auto add = [&](const char* key, std::optional<std::string> configured, std::int64_t id) {
    if (!configured && id >= 0) configured = tokenizer.id_to_piece(id);
    if (configured) variables[key] = *configured;
  };
  add("bos_token", config.bos_token, tokenizer.bos_id());
  add("eos_token", config.eos_token, tokenizer.eos_id());
  add("unk_token", config.unk_token, tokenizer.unk_id());
  add("pad_token", config.pad_token, tokenizer.pad_id().value_or(-1));
  const auto additional = config.raw.find("additional_special_tokens");
  if (additional != config.raw.end() && additional->is_array()) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const nlohmann::json& token : *additional) {
      if (token.is_string()) tokens.push_back(token);
      else if (token.is_object() && token.contains("content") && token["content"].is_string()) tokens.push_back(token["content"]);
    }
    variables["additional_special_tokens"] = tokens;
  }
  return variables;
}

// The earliest special token in `text` (the longest one starting there), if any.
std::optional<std::pair<std::string, std::int64_t>> first_special_token(const Tokenizer& tokenizer,
                                                                        const std::string& text) {
  constexpr std::size_t kLongestToken = 64;
  for (std::size_t start = 0; start < text.size(); ++start) {
    for (std::size_t length = std::min(kLongestToken, text.size() - start); length > 0; --length) {
      const std::string candidate = text.substr(start, length);
      const auto id = tokenizer.token_to_id(candidate);
      if (id && tokenizer.is_special(*id)) return std::make_pair(candidate, *id);
    }
  }
  return std::nullopt;
}

}  // namespace

ChatTemplate ChatTemplate::from_model_jinja(const Tokenizer& tokenizer, const TokenizerConfig& config) {
  const std::string origin = chat_template_origin(config);
  ChatTemplate chat_template;
  chat_template.name_ = "jinja";
  chat_template.jinja_source_ = config.chat_template;
  chat_template.jinja_ = std::make_shared<const jinja::Template>(jinja::Template::parse(config.chat_template, origin));
  chat_template.special_tokens_ = special_token_variables(tokenizer, config);
  if (tokenizer.eos_id() >= 0) chat_template.eos_token_ = tokenizer.id_to_piece(tokenizer.eos_id());
  if (tokenizer.bos_id() >= 0) chat_template.bos_token_ = tokenizer.id_to_piece(tokenizer.bos_id());
  chat_template.read_reply_format_from_template(tokenizer, origin);
  return chat_template;
}

void ChatTemplate::read_reply_format_from_template(const Tokenizer& tokenizer, const std::string& origin) {
  std::string prompt;
  std::string conversation;
  try {
    prompt = render({{"user", kProbeUser}}, /*add_generation_prompt=*/true);
    conversation = render({{"user", kProbeUser}, {"assistant", kProbeReply}}, /*add_generation_prompt=*/false);
  } catch (const InputError& e) {
    throw InputError(origin + ": cannot render a one-turn conversation (user, then assistant) to see how a reply is "
                     "written: " + e.what());
  }
  const std::size_t reply_at = conversation.find(kProbeReply);
  if (reply_at == std::string::npos)
    throw InputError(origin + ": the template does not write an assistant message's content, so replies cannot be "
                     "trained; set tokenizer.chat_template to a built-in template");
  if (conversation.compare(0, prompt.size(), prompt) != 0 || reply_at < prompt.size())
    throw InputError(origin + ": the generation prompt is not where the conversation's reply starts (rendered with "
                     "add_generation_prompt the text is not a prefix of the conversation with its reply); set "
                     "tokenizer.chat_template to a built-in template");
  response_prefix_ = conversation.substr(prompt.size(), reply_at - prompt.size());
  const std::string after_reply = conversation.substr(reply_at + std::string(kProbeReply).size());
  if (const auto token = first_special_token(tokenizer, after_reply)) {
    end_of_turn_token_ = token->first;
    end_of_turn_id_ = token->second;
  } else if (tokenizer.eos_id() >= 0) {
    end_of_turn_token_ = eos_token_;
    end_of_turn_id_ = tokenizer.eos_id();
  } else {
    throw InputError(origin + ": the template ends a reply with no special token and " +
                     tokenizer.model_path().string() + " has no end-of-sequence token, so generation could not stop");
  }
  stop_ids_ = {end_of_turn_id_};
  if (tokenizer.eos_id() >= 0 && tokenizer.eos_id() != end_of_turn_id_) stop_ids_.push_back(tokenizer.eos_id());
}

}  // namespace selm
