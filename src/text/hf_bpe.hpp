// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): a word -> ids by applying the
// ranked merges, lowest rank first and leftmost first among equal ranks, as Hugging Face
// tokenizers does. Covers byte-level vocabularies (GPT-2, Llama 3, Qwen, DeepSeek) and
// SentencePiece-style ones (byte_fallback to <0xAB> pieces, unk_token, fuse_unk).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace selm::hf {

class JsonNode;

// An open-addressing hash table from strings to ids (the vocabulary and added tokens: hundreds
// of thousands of short keys, looked up with string_views and no allocation).
class StringIndex {
 public:
  // Inserts or overwrites.
  void insert(std::string_view key, std::int32_t value);
  // The value of `key`, or -1.
  std::int32_t find(std::string_view key) const;
  std::size_t size() const { return values_.size(); }
  void reserve(std::size_t count);

 private:
  std::string_view key_of(std::size_t entry) const {
    return std::string_view(arena_).substr(offsets_[entry], offsets_[entry + 1] - offsets_[entry]);
  }
  void rehash(std::size_t slot_count);

  std::string arena_;                       // the keys, back to back
  std::vector<std::size_t> offsets_{0};     // entry i is arena_[offsets_[i], offsets_[i + 1])
  std::vector<std::int32_t> values_;
  std::vector<std::int32_t> slots_;         // entry index or -1; size a power of two
};

class BpeModel {
 public:
  // Reads `model` (its "type" already checked to be BPE); errors name the key.
  explicit BpeModel(const JsonNode& model);

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<std::int32_t>& ids) const;

  std::int32_t token_id(std::string_view token) const { return vocab_.find(token); }
  // The token string of `id`, or null when no vocabulary entry has that id.
  const std::string* token(std::int64_t id) const;
  // The largest id in the vocabulary (-1 when it is empty).
  std::int32_t max_id() const { return static_cast<std::int32_t>(tokens_.size()) - 1; }
  const std::optional<std::string>& unk_token() const { return unk_token_; }

 private:
  struct Merge {
    std::uint64_t pair = ~std::uint64_t{0};  // (left id << 32) | right id; all ones = empty slot
    std::int32_t rank = 0;
    std::int32_t new_id = 0;
  };

  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32 | static_cast<std::uint32_t>(right);
  }
  void add_merge(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t new_id);
  const Merge* find_merge(std::int32_t left, std::int32_t right) const;
  void read_vocab(const JsonNode& vocab);
  void read_merges(const JsonNode& merges);
  void merge_word(std::string_view word, std::vector<std::int32_t>& ids) const;

  StringIndex vocab_;
  std::vector<std::string> tokens_;  // by id; empty for ids no entry has
  std::vector<bool> has_token_;
  std::vector<Merge> merges_;         // open addressing, size a power of two
  std::size_t merge_count_ = 0;
  std::optional<std::string> unk_token_;
  std::int32_t unk_id_ = -1;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::array<std::int32_t, 256> byte_ids_{};  // ids of "<0x00>".."<0xFF>", -1 when absent

  // Words seen before (most words of a text repeat); bounded, cleared when full. encode is
  // const and may run on several threads, hence the mutex.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

}  // namespace selm::hf
