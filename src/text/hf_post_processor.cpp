#include "hf_post_processor.hpp"

#include <sstream>
#include <string>

#include "hf_json.hpp"

namespace selm::hf {
namespace {

std::vector<std::int64_t> special_token_ids(const JsonNode& processor, const std::string& name, const JsonNode& where) {
  if (!processor.has("special_tokens") || !processor.at("special_tokens").has(name.c_str()))
    where.fail("names the special token \"" + name + "\", which special_tokens does not define");
  const JsonNode ids = processor.at("special_tokens").at(name.c_str()).at("ids");
  ids.require_array();
  std::vector<std::int64_t> result;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const JsonNode id = ids.at(i);
    if (!id.value().is_number_integer() || id.value().get<std::int64_t>() < 0) id.fail("must be a non-negative token id");
    result.push_back(id.value().get<std::int64_t>());
  }
  return result;
}

// TemplateProcessing's "single": a list of {"SpecialToken": {"id": ...}} and {"Sequence":
// {"id": "A"}} items, or the string form "<s>:0 $A:0".
SequenceWrapping template_wrapping(const JsonNode& processor) {
  const JsonNode single = processor.at("single");
  SequenceWrapping wrapping;
  int sequences = 0;
  auto add_special = [&](const std::string& name, const JsonNode& where) {
    const std::vector<std::int64_t> ids = special_token_ids(processor, name, where);
    std::vector<std::int64_t>& side = sequences == 0 ? wrapping.prefix : wrapping.suffix;
    side.insert(side.end(), ids.begin(), ids.end());
  };
  auto add_sequence = [&](const std::string& id, const JsonNode& where) {
    if (id != "A") where.fail("the single-sequence template can only hold sequence A, not \"" + id + "\"");
    ++sequences;
  };
  if (single.value().is_string()) {
    std::istringstream words(single.value().get<std::string>());
    for (std::string word; words >> word;) {
      const std::size_t colon = word.rfind(':');
      const std::string name = colon == std::string::npos ? word : word.substr(0, colon);
      if (name.size() > 1 && name.front() == '$')
        add_sequence(name.substr(1), single);
      else if (name == "$")
        add_sequence("A", single);
      else
        add_special(name, single);
    }
  } else {
    single.require_array();
    for (std::size_t i = 0; i < single.size(); ++i) {
      const JsonNode item = single.at(i);
      if (item.has("SpecialToken")) {
        add_special(item.at("SpecialToken").string_at("id"), item.at("SpecialToken"));
      } else if (item.has("Sequence")) {
        add_sequence(item.at("Sequence").string_at("id"), item.at("Sequence"));
      } else {
        item.fail("must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
  }
  if (sequences != 1) single.fail("must hold sequence A exactly once");
  return wrapping;
}

// RobertaProcessing / BertProcessing: {"cls": ["<s>", 0], "sep": ["</s>", 2]} -> cls A sep.
std::int64_t pair_id(const JsonNode& processor, const char* key) {
  const JsonNode pair = processor.at(key);
  if (!pair.value().is_array() || pair.size() != 2 || !pair.value()[1].is_number_integer() ||
      pair.value()[1].get<std::int64_t>() < 0)
    pair.fail("must be a pair [\"TOKEN\", ID]");
  return pair.value()[1].get<std::int64_t>();
}

SequenceWrapping parse(const JsonNode& node) {
  SequenceWrapping wrapping;
  if (node.value().is_null()) return wrapping;
  node.require_object();
  const std::string type = node.type();
  if (type == "ByteLevel") return wrapping;  // only moves offsets
  if (type == "TemplateProcessing") return template_wrapping(node);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    wrapping.prefix.push_back(pair_id(node, "cls"));
    wrapping.suffix.push_back(pair_id(node, "sep"));
    return wrapping;
  }
  if (type == "Sequence") {
    const JsonNode list = node.at("processors");
    list.require_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      // Each processor wraps what the ones before it produced.
      const SequenceWrapping outer = parse(list.at(i));
      wrapping.prefix.insert(wrapping.prefix.begin(), outer.prefix.begin(), outer.prefix.end());
      wrapping.suffix.insert(wrapping.suffix.end(), outer.suffix.begin(), outer.suffix.end());
    }
    return wrapping;
  }
  node.at("type").fail("post-processor \"" + type +
                       "\" is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, "
                       "BertProcessing, Sequence)");
}

}  // namespace

SequenceWrapping parse_post_processor(const JsonNode& node) { return parse(node); }

}  // namespace selm::hf
