#include "hf_decoder.hpp"

#include "hf_byte_level.hpp"
#include "hf_json.hpp"
#include "hf_pattern.hpp"
#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

constexpr const char* kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

class ByteLevel final : public Decoder {
 public:
  void decode(std::vector<std::string>& tokens, bool) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      // A token made only of alphabet characters stands for bytes; any other token (an added
      // token such as "<｜end▁of▁sentence｜>") is taken as the text it is.
      const std::size_t mark = bytes.size();
      std::size_t position = 0;
      bool all_bytes = true;
      while (position < token.size()) {
        const int byte = byte_of_character(decode_utf8(token, position));
        if (byte < 0) {
          all_bytes = false;
          break;
        }
        bytes.push_back(static_cast<char>(byte));
      }
      if (!all_bytes) {
        bytes.resize(mark);
        bytes += token;
      }
    }
    tokens.assign(1, to_valid_utf8(bytes));
  }
};

class Metaspace final : public Decoder {
 public:
  explicit Metaspace(const JsonNode& node) : replacement_(node.single_char("replacement", U'\u2581')) {
    strips_prefix_ = node.bool_or("add_prefix_space", true);
    if (node.has("prepend_scheme")) strips_prefix_ = node.string_at("prepend_scheme") != "never";
  }
  void decode(std::vector<std::string>& tokens, bool continuation) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      // Hugging Face drops every replacement character of the first token, not only a leading one.
      const bool drop = i == 0 && strips_prefix_ && !continuation;
      std::string out;
      out.reserve(tokens[i].size());
      std::size_t position = 0;
      while (position < tokens[i].size()) {
        const std::size_t start = position;
        const char32_t c = decode_utf8(tokens[i], position);
        if (c != replacement_)
          out.append(tokens[i], start, position - start);
        else if (!drop)
          out.push_back(' ');
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  char32_t replacement_;
  bool strips_prefix_ = true;
};

// "<0xAB>" -> 0xAB, else -1.
int byte_piece_value(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  int value = 0;
  for (std::size_t i = 3; i < 5; ++i) {
    const char c = token[i];
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

class ByteFallback final : public Decoder {
 public:
  void decode(std::vector<std::string>& tokens, bool) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      // A run that is not valid UTF-8 becomes one U+FFFD per byte, as in Hugging Face.
      if (is_valid_utf8(run))
        out.push_back(run);
      else
        for (std::size_t i = 0; i < run.size(); ++i) out.emplace_back(kReplacementCharacter);
      run.clear();
    };
    for (std::string& token : tokens) {
      const int byte = byte_piece_value(token);
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }
};

class Fuse final : public Decoder {
 public:
  void decode(std::vector<std::string>& tokens, bool) const override {
    std::string joined;
    for (const std::string& token : tokens) joined += token;
    tokens.assign(1, std::move(joined));
  }
};

class Strip final : public Decoder {
 public:
  explicit Strip(const JsonNode& node)
      : content_(node.single_char("content", std::nullopt)),
        start_(static_cast<std::size_t>(node.int_or("start", 0))),
        stop_(static_cast<std::size_t>(node.int_or("stop", 0))) {
    if (node.int_or("start", 0) < 0) node.at("start").fail("must not be negative");
    if (node.int_or("stop", 0) < 0) node.at("stop").fail("must not be negative");
  }
  void decode(std::vector<std::string>& tokens, bool continuation) const override {
    // The start strip removes the space of a dummy prefix; continuation text has none.
    const std::size_t start_limit = continuation ? 0 : start_;
    for (std::string& token : tokens) {
      std::vector<std::size_t> starts;  // byte offset of each character
      for (std::size_t position = 0; position < token.size();) {
        starts.push_back(position);
        decode_utf8(token, position);
      }
      const std::size_t count = starts.size();
      auto character = [&](std::size_t i) {
        std::size_t position = starts[i];
        return decode_utf8(token, position);
      };
      std::size_t first = 0, last = count;  // kept characters [first, last)
      while (first < count && first < start_limit && character(first) == content_) ++first;
      for (std::size_t removed = 0; removed < stop_ && last > first && character(last - 1) == content_; ++removed) --last;
      const std::size_t begin = first < count ? starts[first] : token.size();
      const std::size_t end = last < count ? starts[last] : token.size();
      token = token.substr(begin, end - begin);
    }
  }

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

class Replace final : public Decoder {
 public:
  explicit Replace(const JsonNode& node) : pattern_(node.at("pattern")), content_(node.string_at("content")) {}
  void decode(std::vector<std::string>& tokens, bool) const override {
    for (std::string& token : tokens) token = pattern_.replace_all(token, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(const JsonNode& node) : suffix_(node.optional_string("suffix").value_or("</w>")) {}
  void decode(std::vector<std::string>& tokens, bool) const override {
    if (suffix_.empty()) return;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const std::string replacement = i + 1 == tokens.size() ? "" : " ";
      std::string& token = tokens[i];
      std::string out;
      std::size_t start = 0;
      for (std::size_t found; (found = token.find(suffix_, start)) != std::string::npos; start = found + suffix_.size()) {
        out.append(token, start, found - start);
        out += replacement;
      }
      out.append(token, start, std::string::npos);
      token = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

void parse_into(const JsonNode& node, std::vector<std::unique_ptr<Decoder>>& chain) {
  if (node.value().is_null()) return;
  node.require_object();
  const std::string type = node.type();
  if (type == "Sequence") {
    const JsonNode list = node.at("decoders");
    list.require_array();
    for (std::size_t i = 0; i < list.size(); ++i) parse_into(list.at(i), chain);
  } else if (type == "ByteLevel") {
    chain.push_back(std::make_unique<ByteLevel>());
  } else if (type == "Metaspace") {
    chain.push_back(std::make_unique<Metaspace>(node));
  } else if (type == "ByteFallback") {
    chain.push_back(std::make_unique<ByteFallback>());
  } else if (type == "Fuse") {
    chain.push_back(std::make_unique<Fuse>());
  } else if (type == "Strip") {
    chain.push_back(std::make_unique<Strip>(node));
  } else if (type == "Replace") {
    chain.push_back(std::make_unique<Replace>(node));
  } else if (type == "BPEDecoder") {
    chain.push_back(std::make_unique<BpeDecoder>(node));
  } else {
    node.at("type").fail("decoder \"" + type +
                         "\" is not supported (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, "
                         "Replace, BPEDecoder, Sequence)");
  }
}

}  // namespace

std::vector<std::unique_ptr<Decoder>> parse_decoders(const JsonNode& node) {
  std::vector<std::unique_ptr<Decoder>> chain;
  parse_into(node, chain);
  return chain;
}

}  // namespace selm::hf
