#include "selm/text/hf_tokenizer.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "hf_added_tokens.hpp"
#include "hf_bpe.hpp"
#include "hf_decoder.hpp"
#include "hf_json.hpp"
#include "hf_normalizer.hpp"
#include "hf_post_processor.hpp"
#include "hf_pre_tokenizer.hpp"
#include "hf_unicode.hpp"
#include "selm/util/error.hpp"
#include "selm/util/json_depth.hpp"
#include "selm/util/files.hpp"

namespace selm {
namespace {

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t start = 0;
  for (std::size_t found; (found = text.find(from, start)) != std::string::npos; start = found + from.size()) {
    out.append(text, start, found - start);
    out.append(to);
  }
  out.append(text, start, std::string::npos);
  return out;
}

// transformers' clean_up_tokenization: the spaces that word-level detokenization left before
// punctuation and English contractions.
std::string clean_up_tokenization(std::string text) {
  static const std::pair<const char*, const char*> kReplacements[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kReplacements) text = replace_all(std::move(text), from, to);
  return text;
}

}  // namespace

struct HfTokenizer::Impl {
  fs::path path;
  std::string file;  // path as text, for messages
  TokenizerConfig config;
  std::unique_ptr<hf::BpeModel> model;
  std::vector<std::unique_ptr<hf::Normalizer>> normalizers;
  std::vector<std::unique_ptr<hf::PreTokenizer>> pre_tokenizers;
  std::vector<std::unique_ptr<hf::Decoder>> decoders;
  bool has_decoder = false;
  hf::SequenceWrapping wrapping;
  std::unique_ptr<hf::AddedVocabulary> added;
  std::unordered_map<std::int64_t, std::size_t> added_index_by_id;  // into added->tokens()
  hf::StringIndex added_id_by_content;
  std::int64_t vocabulary_size = 0;
  std::int64_t bos = -1, eos = -1, unk = -1;
  std::optional<std::int64_t> pad;
  bool clean_up_spaces = false;

  std::string normalize(std::string text, bool continuation) const {
    for (const auto& normalizer : normalizers) normalizer->normalize(text, continuation);
    return text;
  }

  std::optional<std::int64_t> lookup(std::string_view token) const {
    if (const std::int32_t id = added_id_by_content.find(token); id >= 0) return id;
    if (const std::int32_t id = model->token_id(token); id >= 0) return id;
    return std::nullopt;
  }

  void check_id(std::int64_t id) const {
    if (id < 0 || id >= vocabulary_size)
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(vocabulary_size) + ") of " + file);
  }

  const hf::AddedTokenSpec* added_token(std::int64_t id) const {
    const auto found = added_index_by_id.find(id);
    return found == added_index_by_id.end() ? nullptr : &added->tokens()[found->second];
  }

  // The pipeline: added tokens, then normalizer, pre-tokenizer and model on the text between.
  std::vector<std::int64_t> encode(std::string_view text, bool match_special, bool continuation) const {
    std::string repaired;
    if (!hf::is_valid_utf8(text)) {
      repaired = hf::to_valid_utf8(text);
      text = repaired;
    }
    std::vector<std::int64_t> ids;
    std::vector<hf::Segment> raw_segments, normalized_segments;
    std::vector<hf::Piece> pieces;
    std::vector<std::int32_t> word_ids;
    const auto& tokens = added->tokens();
    added->split(text, /*normalized_text=*/false, !match_special, raw_segments);
    for (const hf::Segment& segment : raw_segments) {
      if (segment.token >= 0) {
        ids.push_back(tokens[static_cast<std::size_t>(segment.token)].id);
        continue;
      }
      const std::string normalized =
          normalize(std::string(text.substr(segment.range.begin, segment.range.end - segment.range.begin)), continuation);
      normalized_segments.clear();
      added->split(normalized, /*normalized_text=*/true, !match_special, normalized_segments);
      for (const hf::Segment& inner : normalized_segments) {
        if (inner.token >= 0) {
          ids.push_back(tokens[static_cast<std::size_t>(inner.token)].id);
          continue;
        }
        pieces.clear();
        pieces.push_back({normalized.substr(inner.range.begin, inner.range.end - inner.range.begin),
                          segment.range.begin == 0 && inner.range.begin == 0});
        for (const auto& pre_tokenizer : pre_tokenizers) pre_tokenizer->pre_tokenize(pieces, continuation);
        for (const hf::Piece& piece : pieces) {
          word_ids.clear();
          model->encode_word(piece.text, word_ids);
          ids.insert(ids.end(), word_ids.begin(), word_ids.end());
        }
      }
    }
    return ids;
  }

  std::string decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens, bool continuation) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const std::int64_t id : ids) {
      check_id(id);
      if (const hf::AddedTokenSpec* token = added_token(id)) {
        if (skip_special_tokens && token->special) continue;
        // A normalized token decodes as its normalized form, as in Hugging Face.
        tokens.push_back(token->normalized ? token->normalized_content : token->content);
      } else if (const std::string* piece = model->token(id)) {
        tokens.push_back(*piece);
      }  // an id no entry has (a gap in the vocabulary) decodes to nothing
    }
    std::string text;
    if (!has_decoder) {
      // Without a decoder Hugging Face joins the tokens with spaces.
      for (std::size_t i = 0; i < tokens.size(); ++i) text += (i == 0 ? "" : " ") + tokens[i];
    } else {
      for (const auto& decoder : decoders) decoder->decode(tokens, continuation);
      for (const std::string& token : tokens) text += token;
    }
    return clean_up_spaces ? clean_up_tokenization(std::move(text)) : text;
  }

  // Loading, phase 1: the model and the components around it.
  void read_pipeline(const hf::JsonNode& root) {
    const hf::JsonNode model_node = root.at("model");
    model_node.require_object();
    // Files from before model types were written hold a BPE model when they have merges.
    const std::string type = model_node.has("type") ? model_node.type() : model_node.has("merges") ? "BPE" : "";
    if (type.empty()) model_node.at("type");  // reports it missing
    if (type != "BPE")
      model_node.at("type").fail("model \"" + type +
                                 "\" is not supported (only BPE models are; WordPiece, Unigram and WordLevel "
                                 "tokenizers are not)");
    model = std::make_unique<hf::BpeModel>(model_node);
    const auto component = [&](const char* key) {
      static const nlohmann::json null_value;
      return root.has(key) ? root.at(key) : hf::JsonNode(null_value, file, key);
    };
    normalizers = hf::parse_normalizers(component("normalizer"));
    pre_tokenizers = hf::parse_pre_tokenizers(component("pre_tokenizer"));
    decoders = hf::parse_decoders(component("decoder"));
    has_decoder = root.has("decoder");
    wrapping = hf::parse_post_processor(component("post_processor"));
  }

  // Phase 2: the added tokens, checked against the vocabulary; the first `from_tokenizer_json`
  // came from tokenizer.json's added_tokens, the rest from tokenizer_config.json.
  void register_added_tokens(std::vector<hf::AddedTokenSpec> tokens, std::size_t from_tokenizer_json) {
    std::int64_t max_id = model->max_id();
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      hf::AddedTokenSpec& token = tokens[i];
      const auto fail = [&](const std::string& message) {
        if (i < from_tokenizer_json) throw_input_error(file, 0, "added_tokens[" + std::to_string(i) + "]: " + message);
        throw_input_error(config.path.string(), 0, "added_tokens_decoder." + std::to_string(token.id) + ": " + message);
      };
      const std::string* vocab_token = model->token(token.id);
      if (vocab_token != nullptr && *vocab_token != token.content)
        fail("id " + std::to_string(token.id) + " is " + in_quotes(*vocab_token) + " in model.vocab, not " +
             in_quotes(token.content));
      const std::int32_t vocab_id = model->token_id(token.content);
      if (vocab_id >= 0 && vocab_id != token.id)
        fail(in_quotes(token.content) + " has id " + std::to_string(vocab_id) + " in model.vocab, not " +
             std::to_string(token.id));
      if (!added_index_by_id.emplace(token.id, i).second)
        fail("id " + std::to_string(token.id) + " is used by another added token");
      if (added_id_by_content.find(token.content) >= 0) fail(in_quotes(token.content) + " is listed twice");
      added_id_by_content.insert(token.content, token.id);
      token.normalized_content = token.normalized ? normalize(token.content, false) : token.content;
      max_id = std::max<std::int64_t>(max_id, token.id);
    }
    added = std::make_unique<hf::AddedVocabulary>(std::move(tokens));
    vocabulary_size = max_id + 1;
  }

  // Phase 3: what tokenizer_config.json says about special tokens and decoding.
  void read_settings() {
    const auto id_of = [&](const std::optional<std::string>& token) -> std::optional<std::int64_t> {
      if (!token) return std::nullopt;
      return lookup(*token);
    };
    bos = id_of(config.bos_token).value_or(-1);
    eos = id_of(config.eos_token).value_or(-1);
    unk = id_of(config.unk_token).value_or(id_of(model->unk_token()).value_or(-1));
    pad = id_of(config.pad_token);
    if (config.raw.is_object() && config.raw.contains("clean_up_tokenization_spaces")) {
      const nlohmann::json& flag = config.raw["clean_up_tokenization_spaces"];
      if (!flag.is_boolean() && !flag.is_null())
        throw_input_error(config.path.string(), 0, "clean_up_tokenization_spaces: must be true or false");
      clean_up_spaces = flag.is_boolean() && flag.get<bool>();
    }
  }
};

namespace {

using hf::JsonNode;

std::vector<hf::AddedTokenSpec> read_added_tokens(const JsonNode& root) {
  std::vector<hf::AddedTokenSpec> tokens;
  if (!root.has("added_tokens")) return tokens;
  const JsonNode list = root.at("added_tokens");
  list.require_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const JsonNode entry = list.at(i);
    entry.require_object();
    hf::AddedTokenSpec token;
    const std::int64_t id = entry.int_or("id", -1);
    if (id < 0 || id > std::numeric_limits<std::int32_t>::max()) entry.at("id").fail("must be a non-negative token id");
    token.id = static_cast<std::int32_t>(id);
    token.content = entry.string_at("content");
    if (token.content.empty()) entry.at("content").fail("must not be empty");
    token.single_word = entry.bool_or("single_word", false);
    token.lstrip = entry.bool_or("lstrip", false);
    token.rstrip = entry.bool_or("rstrip", false);
    token.special = entry.bool_or("special", false);
    token.normalized = entry.bool_or("normalized", !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// tokenizer_config.json's added_tokens_decoder entries that tokenizer.json lacks (transformers
// adds them when it loads the pair).
void add_config_tokens(const TokenizerConfig& config, std::vector<hf::AddedTokenSpec>& tokens) {
  std::unordered_set<std::int64_t> known_ids;
  std::unordered_set<std::string> known_contents;
  for (const hf::AddedTokenSpec& token : tokens) {
    known_ids.insert(token.id);
    known_contents.insert(token.content);
  }
  // normalized and single_word are not in TokenizerConfig's AddedToken: they come from the file.
  const nlohmann::json* entries = nullptr;
  if (config.raw.is_object() && config.raw.contains("added_tokens_decoder") && config.raw["added_tokens_decoder"].is_object())
    entries = &config.raw["added_tokens_decoder"];
  for (const AddedToken& extra : config.added_tokens) {
    if (known_ids.count(extra.id) != 0 || known_contents.count(extra.content) != 0 || extra.content.empty() ||
        extra.id > std::numeric_limits<std::int32_t>::max())
      continue;
    hf::AddedTokenSpec token;
    token.id = static_cast<std::int32_t>(extra.id);
    token.content = extra.content;
    token.special = extra.special;
    token.lstrip = extra.lstrip;
    token.rstrip = extra.rstrip;
    token.normalized = !extra.special;
    const std::string key = std::to_string(extra.id);
    if (entries != nullptr && entries->contains(key) && (*entries)[key].is_object()) {
      const nlohmann::json& entry = (*entries)[key];
      if (entry.contains("normalized") && entry["normalized"].is_boolean()) token.normalized = entry["normalized"].get<bool>();
      if (entry.contains("single_word") && entry["single_word"].is_boolean())
        token.single_word = entry["single_word"].get<bool>();
    }
    known_ids.insert(token.id);
    known_contents.insert(token.content);
    tokens.push_back(std::move(token));
  }
}

}  // namespace

HfTokenizer::HfTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfTokenizer::~HfTokenizer() = default;

std::unique_ptr<HfTokenizer> HfTokenizer::load(const fs::path& tokenizer_json, TokenizerConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->path = tokenizer_json;
  impl->file = tokenizer_json.string();
  impl->config = std::move(config);
  nlohmann::json document;
  try {
    const std::string text = read_file(tokenizer_json);
    require_json_depth_within(text, impl->file);
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw_input_error(impl->file, 0, std::string("invalid JSON: ") + e.what());
  } catch (const nlohmann::json::out_of_range&) {
    // nlohmann::json refuses numbers beyond double's range (1e309) with out_of_range.
    throw_input_error(impl->file, 0, "invalid JSON: a number is out of range");
  }
  const JsonNode root(document, impl->file, "");
  root.require_object();
  impl->read_pipeline(root);
  std::vector<hf::AddedTokenSpec> tokens = read_added_tokens(root);
  const std::size_t from_tokenizer_json = tokens.size();
  add_config_tokens(impl->config, tokens);
  impl->register_added_tokens(std::move(tokens), from_tokenizer_json);
  impl->read_settings();
  return std::unique_ptr<HfTokenizer>(new HfTokenizer(std::move(impl)));
}

std::vector<std::int64_t> HfTokenizer::encode(std::string_view text) const {
  return impl_->encode(text, /*match_special=*/false, /*continuation=*/false);
}

std::vector<std::int64_t> HfTokenizer::encode_with_special_tokens(std::string_view text) const {
  return impl_->encode(text, /*match_special=*/true, /*continuation=*/false);
}

std::vector<std::int64_t> HfTokenizer::encode_continuation(std::string_view text) const {
  return impl_->encode(text, /*match_special=*/false, /*continuation=*/true);
}

std::vector<std::int64_t> HfTokenizer::encode_with_post_processor(std::string_view text) const {
  std::vector<std::int64_t> ids = impl_->wrapping.prefix;
  const std::vector<std::int64_t> body = encode_with_special_tokens(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.insert(ids.end(), impl_->wrapping.suffix.begin(), impl_->wrapping.suffix.end());
  return ids;
}

const std::vector<std::int64_t>& HfTokenizer::post_processor_prefix_ids() const { return impl_->wrapping.prefix; }
const std::vector<std::int64_t>& HfTokenizer::post_processor_suffix_ids() const { return impl_->wrapping.suffix; }

std::string HfTokenizer::decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens, /*continuation=*/false);
}

std::string HfTokenizer::decode_continuation(const std::vector<std::int64_t>& ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens, /*continuation=*/true);
}

std::int64_t HfTokenizer::vocab_size() const { return impl_->vocabulary_size; }
std::int64_t HfTokenizer::bos_id() const { return impl_->bos; }
std::int64_t HfTokenizer::eos_id() const { return impl_->eos; }
std::int64_t HfTokenizer::unk_id() const { return impl_->unk; }
std::optional<std::int64_t> HfTokenizer::pad_id() const { return impl_->pad; }

std::optional<std::int64_t> HfTokenizer::token_to_id(const std::string& piece) const { return impl_->lookup(piece); }

std::string HfTokenizer::id_to_piece(std::int64_t id) const {
  impl_->check_id(id);
  if (const hf::AddedTokenSpec* token = impl_->added_token(id)) return token->content;
  const std::string* piece = impl_->model->token(id);
  return piece ? *piece : std::string();
}

bool HfTokenizer::is_special(std::int64_t id) const {
  impl_->check_id(id);
  const hf::AddedTokenSpec* token = impl_->added_token(id);
  return token != nullptr && token->special;
}

const TokenizerConfig& HfTokenizer::config() const { return impl_->config; }
const fs::path& HfTokenizer::model_path() const { return impl_->path; }

}  // namespace selm
