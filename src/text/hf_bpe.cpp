#include "hf_bpe.hpp"

#include <algorithm>
#include <functional>
#include <limits>

#include "hf_json.hpp"
#include "hf_unicode.hpp"

namespace selm::hf {
namespace {

// Words of at least this many bytes are not cached (Hugging Face's limit too): they are rare,
// and SentencePiece-style tokenizers without a pre-tokenizer pass whole lines as one word.
constexpr std::size_t kMaxCachedWordBytes = 256;
constexpr std::size_t kCacheCapacity = 10000;

std::size_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }

std::size_t hash_of(std::uint64_t key) {
  key ^= key >> 33;
  key *= 0xFF51AFD7ED558CCDull;
  key ^= key >> 33;
  return static_cast<std::size_t>(key);
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// The tokens are stored by id, so the largest id sizes the table: a single token with id 2^31-1
// would allocate 64 GB. Real vocabularies are dense (ids 0..n-1, at most a few ids left to the
// added tokens); a million ids without a token is far more than any of them leaves.
constexpr std::int64_t kMaxVocabIdsWithoutToken = std::int64_t{1} << 20;

}  // namespace

// ---------------------------------------------------------------------------------------------

void StringIndex::reserve(std::size_t count) {
  values_.reserve(count);
  offsets_.reserve(count + 1);
  std::size_t slots = 16;
  while (slots < count * 2) slots *= 2;
  if (slots > slots_.size()) rehash(slots);
}

void StringIndex::rehash(std::size_t slot_count) {
  slots_.assign(slot_count, -1);
  const std::size_t mask = slot_count - 1;
  for (std::size_t entry = 0; entry < values_.size(); ++entry) {
    std::size_t slot = hash_of(key_of(entry)) & mask;
    while (slots_[slot] >= 0) slot = (slot + 1) & mask;
    slots_[slot] = static_cast<std::int32_t>(entry);
  }
}

void StringIndex::insert(std::string_view key, std::int32_t value) {
  if ((values_.size() + 1) * 2 > slots_.size()) rehash(std::max<std::size_t>(16, slots_.size() * 2));
  const std::size_t mask = slots_.size() - 1;
  std::size_t slot = hash_of(key) & mask;
  for (; slots_[slot] >= 0; slot = (slot + 1) & mask) {
    const auto entry = static_cast<std::size_t>(slots_[slot]);
    if (key_of(entry) == key) {
      values_[entry] = value;
      return;
    }
  }
  slots_[slot] = static_cast<std::int32_t>(values_.size());
  arena_.append(key);
  offsets_.push_back(arena_.size());
  values_.push_back(value);
}

std::int32_t StringIndex::find(std::string_view key) const {
  if (slots_.empty()) return -1;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = hash_of(key) & mask; slots_[slot] >= 0; slot = (slot + 1) & mask) {
    const auto entry = static_cast<std::size_t>(slots_[slot]);
    if (key_of(entry) == key) return values_[entry];
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------

BpeModel::BpeModel(const JsonNode& model) {
  if (model.has("dropout")) {
    // Dropout randomly skips merges to regularize training; encoding for inference and for
    // selm's training data must be deterministic, so it is read, checked and not applied.
    const JsonNode dropout = model.at("dropout");
    if (!dropout.value().is_number() || dropout.value().get<double>() < 0.0 || dropout.value().get<double>() > 1.0)
      dropout.fail("must be null or a number in [0, 1]");
  }
  unk_token_ = model.optional_string("unk_token");
  continuing_subword_prefix_ = model.optional_string("continuing_subword_prefix").value_or("");
  end_of_word_suffix_ = model.optional_string("end_of_word_suffix").value_or("");
  fuse_unk_ = model.bool_or("fuse_unk", false);
  byte_fallback_ = model.bool_or("byte_fallback", false);
  ignore_merges_ = model.bool_or("ignore_merges", false);
  read_vocab(model.at("vocab"));
  read_merges(model.at("merges"));
  if (unk_token_) {
    unk_id_ = vocab_.find(*unk_token_);
    if (unk_id_ < 0) model.at("unk_token").fail(in_quotes(*unk_token_) + " is not in model.vocab");
  }
  byte_ids_.fill(-1);
  static const char* const kHex = "0123456789ABCDEF";
  for (int byte = 0; byte < 256; ++byte) {
    const char name[7] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>', '\0'};
    byte_ids_[static_cast<std::size_t>(byte)] = vocab_.find(name);
  }
}

void BpeModel::read_vocab(const JsonNode& vocab) {
  vocab.require_object();
  vocab_.reserve(vocab.value().size());
  std::int64_t max_id = -1;
  for (const auto& [token, id] : vocab.value().items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
      vocab.fail(in_quotes(token) + " must map to a non-negative integer id");
    max_id = std::max(max_id, id.get<std::int64_t>());
  }
  const auto entries = static_cast<std::int64_t>(vocab.value().size());
  if (max_id + 1 - entries > kMaxVocabIdsWithoutToken) {
    vocab.fail("ids up to " + std::to_string(max_id) + " for " + std::to_string(entries) + " tokens leave more than " +
               std::to_string(kMaxVocabIdsWithoutToken) + " ids without a token");
  }
  tokens_.assign(static_cast<std::size_t>(max_id + 1), std::string());
  has_token_.assign(static_cast<std::size_t>(max_id + 1), false);
  for (const auto& [token, id_value] : vocab.value().items()) {
    const auto id = static_cast<std::size_t>(id_value.get<std::int64_t>());
    if (has_token_[id]) vocab.fail("id " + std::to_string(id) + " is used by both " + in_quotes(tokens_[id]) + " and " + in_quotes(token));
    has_token_[id] = true;
    tokens_[id] = token;
    vocab_.insert(token, static_cast<std::int32_t>(id));
  }
}

void BpeModel::read_merges(const JsonNode& merges) {
  merges.require_array();
  std::size_t slots = 16;
  while (slots < merges.size() * 2) slots *= 2;
  merges_.assign(slots, Merge{});
  std::int32_t rank = 0;
  std::string merged;
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const JsonNode entry = merges.at(i);
    std::string left, right;
    const nlohmann::json& value = entry.value();
    if (value.is_string()) {
      const std::string& line = value.get_ref<const std::string&>();
      // A merges.txt header carried over into the list, which Hugging Face skips too.
      if (line.rfind("#version", 0) == 0) continue;
      const std::size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        entry.fail("must be \"LEFT RIGHT\" (two tokens separated by one space), not " + in_quotes(line));
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (value.is_array() && value.size() == 2 && value[0].is_string() && value[1].is_string()) {
      left = value[0].get<std::string>();
      right = value[1].get<std::string>();
    } else {
      entry.fail("must be a string \"LEFT RIGHT\" or a pair [\"LEFT\", \"RIGHT\"]");
    }
    const std::int32_t left_id = vocab_.find(left), right_id = vocab_.find(right);
    if (left_id < 0) entry.fail(in_quotes(left) + " is not in model.vocab");
    if (right_id < 0) entry.fail(in_quotes(right) + " is not in model.vocab");
    // The right part's continuing-subword prefix does not survive the merge ("un" + "##able"
    // gives "unable").
    const std::size_t prefix = continuing_subword_prefix_.size();
    merged = left;
    merged.append(right, std::min(prefix, right.size()), std::string::npos);
    const std::int32_t merged_id = vocab_.find(merged);
    if (merged_id < 0)
      entry.fail("the merge of " + in_quotes(left) + " and " + in_quotes(right) + ", " + in_quotes(merged) +
                 ", is not in model.vocab");
    add_merge(left_id, right_id, rank++, merged_id);
  }
}

void BpeModel::add_merge(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t new_id) {
  const std::uint64_t key = pair_key(left, right);
  const std::size_t mask = merges_.size() - 1;
  std::size_t slot = hash_of(key) & mask;
  while (merges_[slot].pair != ~std::uint64_t{0} && merges_[slot].pair != key) slot = (slot + 1) & mask;
  if (merges_[slot].pair != key) ++merge_count_;
  // A pair listed twice keeps its later rank, as Hugging Face's map insertion does.
  merges_[slot] = Merge{key, rank, new_id};
}

const BpeModel::Merge* BpeModel::find_merge(std::int32_t left, std::int32_t right) const {
  const std::uint64_t key = pair_key(left, right);
  const std::size_t mask = merges_.size() - 1;
  for (std::size_t slot = hash_of(key) & mask; merges_[slot].pair != ~std::uint64_t{0}; slot = (slot + 1) & mask)
    if (merges_[slot].pair == key) return &merges_[slot];
  return nullptr;
}

const std::string* BpeModel::token(std::int64_t id) const {
  if (id < 0 || id >= static_cast<std::int64_t>(tokens_.size()) || !has_token_[static_cast<std::size_t>(id)]) return nullptr;
  return &tokens_[static_cast<std::size_t>(id)];
}

void BpeModel::encode_word(std::string_view word, std::vector<std::int32_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    // Llama 3: a word that is itself a token is that token, whatever the merges would build.
    const std::int32_t id = vocab_.find(word);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  std::string key;
  if (cacheable) {
    key.assign(word);
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto found = cache_.find(key);
    if (found != cache_.end()) {
      ids.insert(ids.end(), found->second.begin(), found->second.end());
      return;
    }
  }
  const std::size_t first = ids.size();
  merge_word(word, ids);
  if (cacheable) {
    const std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::move(key), std::vector<std::int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<std::int32_t>& ids) const {
  struct Symbol {
    std::int32_t id;
    std::int32_t prev;
    std::int32_t next;
    std::uint32_t length;  // bytes of the word it covers; 0 once merged into its left neighbour
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](std::int32_t id, std::size_t length) {
    const auto index = static_cast<std::int32_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, static_cast<std::uint32_t>(length)});
  };

  // 1. One symbol per character (or per byte, or an unknown run).
  std::int32_t pending_unk_length = 0;  // bytes of the unknown characters not yet added
  const bool plain = continuing_subword_prefix_.empty() && end_of_word_suffix_.empty();
  std::string decorated;
  std::size_t position = 0;
  while (position < word.size()) {
    const std::size_t start = position;
    position += utf8_sequence_length(static_cast<unsigned char>(word[position]));
    position = std::min(position, word.size());
    std::string_view character = word.substr(start, position - start);
    if (!plain) {
      decorated.clear();
      if (start != 0) decorated += continuing_subword_prefix_;
      decorated.append(character);
      if (position == word.size()) decorated += end_of_word_suffix_;
      character = decorated;
    }
    const std::int32_t id = vocab_.find(character);
    if (id >= 0) {
      if (pending_unk_length > 0) add(unk_id_, static_cast<std::size_t>(pending_unk_length));
      pending_unk_length = 0;
      add(id, position - start);
      continue;
    }
    if (byte_fallback_) {
      const bool all_bytes_known = std::all_of(character.begin(), character.end(), [&](char byte) {
        return byte_ids_[static_cast<unsigned char>(byte)] >= 0;
      });
      if (all_bytes_known) {
        // A pending unknown run stays pending across byte pieces (it lands after them), as in
        // Hugging Face's merge_word.
        for (const char byte : character) add(byte_ids_[static_cast<unsigned char>(byte)], 1);
        continue;
      }
    }
    // Without an unknown token the character is dropped, as Hugging Face does.
    if (unk_id_ < 0) continue;
    if (pending_unk_length > 0 && !fuse_unk_) {
      add(unk_id_, static_cast<std::size_t>(pending_unk_length));
      pending_unk_length = 0;
    }
    pending_unk_length += static_cast<std::int32_t>(position - start);
  }
  if (pending_unk_length > 0) add(unk_id_, static_cast<std::size_t>(pending_unk_length));

  // 2. Merge the lowest-ranked neighbouring pair (the leftmost among equal ranks) until none is
  // left. Queue entries go stale when a neighbour changes; they are recognised and skipped when
  // the pair now at their position no longer produces the entry's token.
  struct Candidate {
    std::int32_t rank;
    std::int32_t position;
    std::int32_t new_id;
  };
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.position > b.position;
  };
  std::vector<Candidate> queue;
  queue.reserve(symbols.size());
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i)
    if (const Merge* merge = find_merge(symbols[i].id, symbols[i + 1].id))
      queue.push_back({merge->rank, static_cast<std::int32_t>(i), merge->new_id});
  std::make_heap(queue.begin(), queue.end(), later);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& current = symbols[static_cast<std::size_t>(top.position)];
    if (current.length == 0 || current.next < 0) continue;
    const Symbol right = symbols[static_cast<std::size_t>(current.next)];
    const Merge* merge = find_merge(current.id, right.id);
    if (merge == nullptr || merge->new_id != top.new_id) continue;
    current.id = top.new_id;
    current.length += right.length;
    symbols[static_cast<std::size_t>(current.next)].length = 0;
    current.next = right.next;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = top.position;
    if (current.prev >= 0) {
      if (const Merge* left = find_merge(symbols[static_cast<std::size_t>(current.prev)].id, current.id)) {
        queue.push_back({left->rank, current.prev, left->new_id});
        std::push_heap(queue.begin(), queue.end(), later);
      }
    }
    if (current.next >= 0) {
      if (const Merge* next = find_merge(current.id, symbols[static_cast<std::size_t>(current.next)].id)) {
        queue.push_back({next->rank, top.position, next->new_id});
        std::push_heap(queue.begin(), queue.end(), later);
      }
    }
  }
  for (const Symbol& symbol : symbols)
    if (symbol.length != 0) ids.push_back(symbol.id);
}

}  // namespace selm::hf
