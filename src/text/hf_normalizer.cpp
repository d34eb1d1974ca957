#include "hf_normalizer.hpp"

#include "hf_json.hpp"
#include "hf_pattern.hpp"
#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(NormalForm form) : form_(form) {}
  void normalize(std::string& text, bool) const override { text = unicode_normalize(text, form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(std::string& text, bool) const override { text = to_lower(text); }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text, bool) const override {
    std::size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        std::size_t next = begin;
        if (!is_white_space(decode_utf8(text, next))) break;
        begin = next;
      }
    }
    if (right_) {
      while (end > begin) {
        std::size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        std::size_t next = start;
        if (!is_white_space(decode_utf8(text, next))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class StripAccents final : public Normalizer {
 public:
  void normalize(std::string& text, bool) const override {
    if (is_ascii(text)) return;
    std::string out;
    out.reserve(text.size());
    std::size_t position = 0;
    while (position < text.size()) {
      const std::size_t start = position;
      if (!is_combining_mark(decode_utf8(text, position))) out.append(text, start, position - start);
    }
    text = std::move(out);
  }
};

class Replace final : public Normalizer {
 public:
  Replace(const JsonNode& node) : pattern_(node.at("pattern")), content_(node.string_at("content")) {}
  void normalize(std::string& text, bool) const override { text = pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text, bool continuation) const override {
    // Empty text stays empty: there is no word for the prefix to mark.
    if (!continuation && !text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

void parse_into(const JsonNode& node, std::vector<std::unique_ptr<Normalizer>>& chain) {
  if (node.value().is_null()) return;
  node.require_object();
  const std::string type = node.type();
  if (type == "Sequence") {
    const JsonNode list = node.at("normalizers");
    list.require_array();
    for (std::size_t i = 0; i < list.size(); ++i) parse_into(list.at(i), chain);
  } else if (type == "NFC") {
    chain.push_back(std::make_unique<UnicodeForm>(NormalForm::nfc));
  } else if (type == "NFD") {
    chain.push_back(std::make_unique<UnicodeForm>(NormalForm::nfd));
  } else if (type == "NFKC") {
    chain.push_back(std::make_unique<UnicodeForm>(NormalForm::nfkc));
  } else if (type == "NFKD") {
    chain.push_back(std::make_unique<UnicodeForm>(NormalForm::nfkd));
  } else if (type == "Lowercase") {
    chain.push_back(std::make_unique<Lowercase>());
  } else if (type == "Strip") {
    chain.push_back(std::make_unique<Strip>(node.bool_or("strip_left", true), node.bool_or("strip_right", true)));
  } else if (type == "StripAccents") {
    chain.push_back(std::make_unique<StripAccents>());
  } else if (type == "Replace") {
    chain.push_back(std::make_unique<Replace>(node));
  } else if (type == "Prepend") {
    chain.push_back(std::make_unique<Prepend>(node.string_at("prepend")));
  } else {
    node.at("type").fail("normalizer \"" + type +
                         "\" is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, "
                         "Replace, Prepend, Sequence)");
  }
}

}  // namespace

std::vector<std::unique_ptr<Normalizer>> parse_normalizers(const JsonNode& node) {
  std::vector<std::unique_ptr<Normalizer>> chain;
  parse_into(node, chain);
  return chain;
}

}  // namespace selm::hf
