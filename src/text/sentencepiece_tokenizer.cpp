// The only code that talks to SentencePiece, through the C interface of libselm_sentencepiece.
#include "selm/text/sentencepiece_tokenizer.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "selm/text/tokenizer_files.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "sentencepiece_model_proto.hpp"
#include "shim/sentencepiece_shim.h"

namespace selm {
namespace {

namespace proto = sentencepiece_proto;

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁", SentencePiece's space
constexpr const char* kShimFileName = "libselm_sentencepiece.so";
constexpr const char* kShimEnvironmentVariable = "SELM_SENTENCEPIECE_SHIM";

// ---------------------------------------------------------------------------------------------
// The shim library: located and loaded once per process, never unloaded.

struct ShimLibrary {
  decltype(&selm_sp_set_min_log_level) set_min_log_level = nullptr;
  decltype(&selm_sp_load) load = nullptr;
  decltype(&selm_sp_free) free = nullptr;
  decltype(&selm_sp_piece_size) piece_size = nullptr;
  decltype(&selm_sp_special_id) special_id = nullptr;
  decltype(&selm_sp_encode) encode = nullptr;
  decltype(&selm_sp_decode) decode = nullptr;
  decltype(&selm_sp_train) train = nullptr;
};

std::vector<fs::path> shim_candidates() {
  std::vector<fs::path> candidates;
  if (const char* configured = std::getenv(kShimEnvironmentVariable); configured != nullptr && *configured != '\0')
    candidates.emplace_back(configured);
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    candidates.push_back(executable.parent_path() / kShimFileName);
    candidates.push_back(executable.parent_path().parent_path() / "lib" / kShimFileName);
  }
#ifdef SELM_SENTENCEPIECE_SHIM_PATH
  candidates.emplace_back(SELM_SENTENCEPIECE_SHIM_PATH);
#endif
  return candidates;
}

template <class Function>
void resolve(void* handle, const fs::path& path, const char* name, Function& function) {
  function = reinterpret_cast<Function>(dlsym(handle, name));
  if (function == nullptr)
    throw std::runtime_error(path.string() + " lacks the function " + name + "; rebuild selm");
}

ShimLibrary load_shim_library() {
  std::string tried;
  for (const fs::path& candidate : shim_candidates()) {
    std::error_code error;
    if (!fs::exists(candidate, error)) {
      tried += "\n  " + candidate.string() + " (not found)";
      continue;
    }
    // RTLD_LOCAL keeps SentencePiece's protobuf symbols out of the global scope (where LibTorch's
    // protobuf lives); RTLD_DEEPBIND makes SentencePiece prefer its own copies.
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      tried += "\n  " + candidate.string() + " (" + dlerror() + ")";
      continue;
    }
    decltype(&selm_sp_abi_version) abi_version = nullptr;
    resolve(handle, candidate, "selm_sp_abi_version", abi_version);
    if (abi_version() != SELM_SP_SHIM_ABI_VERSION) {
      tried += "\n  " + candidate.string() + " (interface version " + std::to_string(abi_version()) +
               ", expected " + std::to_string(SELM_SP_SHIM_ABI_VERSION) + ")";
      continue;  // handle stays open: unloading a library that may hold state is not worth it
    }
    ShimLibrary library;
    resolve(handle, candidate, "selm_sp_set_min_log_level", library.set_min_log_level);
    resolve(handle, candidate, "selm_sp_load", library.load);
    resolve(handle, candidate, "selm_sp_free", library.free);
    resolve(handle, candidate, "selm_sp_piece_size", library.piece_size);
    resolve(handle, candidate, "selm_sp_special_id", library.special_id);
    resolve(handle, candidate, "selm_sp_encode", library.encode);
    resolve(handle, candidate, "selm_sp_decode", library.decode);
    resolve(handle, candidate, "selm_sp_train", library.train);
    return library;
  }
  throw std::runtime_error(std::string("cannot load the SentencePiece library ") + kShimFileName +
                           " (set " + kShimEnvironmentVariable + " to its path); tried:" + tried);
}

const ShimLibrary& shim() {
  // A failed load throws out of the initialiser, so the next call tries again.
  static const ShimLibrary library = load_shim_library();
  return library;
}

// One loaded SentencePiece model.
class Processor {
 public:
  Processor(std::string_view serialized_model, const fs::path& source) {
    char error[1024] = {0};
    handle_ = shim().load(serialized_model.data(), serialized_model.size(), error, sizeof error);
    if (handle_ == nullptr)
      throw_input_error(source.string(), 0, std::string("not a valid SentencePiece model: ") + error);
  }
  ~Processor() { shim().free(handle_); }
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  std::int32_t piece_size() const { return shim().piece_size(handle_); }
  std::int32_t special_id(std::int32_t which) const { return shim().special_id(handle_, which); }

  std::vector<std::int64_t> encode(std::string_view text) const {
    std::vector<std::int32_t> ids(text.size() + 16);
    char error[1024] = {0};
    for (;;) {
      const std::int64_t count = shim().encode(handle_, text.data(), text.size(), ids.data(), ids.size(), error, sizeof error);
      if (count < 0) throw std::runtime_error(std::string("SentencePiece encode failed: ") + error);
      if (static_cast<std::size_t>(count) <= ids.size()) return {ids.begin(), ids.begin() + count};
      ids.resize(static_cast<std::size_t>(count));
    }
  }

  std::string decode(const std::vector<std::int32_t>& ids) const {
    std::string text(ids.size() * 8 + 64, '\0');
    char error[1024] = {0};
    for (;;) {
      const std::int64_t size = shim().decode(handle_, ids.data(), ids.size(), text.data(), text.size(), error, sizeof error);
      if (size < 0) throw std::runtime_error(std::string("SentencePiece decode failed: ") + error);
      if (static_cast<std::size_t>(size) <= text.size()) {
        text.resize(static_cast<std::size_t>(size));
        return text;
      }
      text.resize(static_cast<std::size_t>(size));
    }
  }

 private:
  selm_sp_processor* handle_ = nullptr;
};

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string result;
  std::size_t start = 0;
  for (std::size_t found; (found = text.find(from, start)) != std::string_view::npos; start = found + from.size()) {
    result.append(text.substr(start, found - start));
    result.append(to);
  }
  result.append(text.substr(start));
  return result;
}

// A string that encode_with_special_tokens turns into one id.
struct SpecialString {
  std::string text;
  std::int64_t id = 0;
  bool lstrip = false;
  bool rstrip = false;
};

// A piece of text to encode: either a special string or ordinary text between them.
struct Segment {
  std::string_view text;
  const SpecialString* special = nullptr;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct SentencePieceTokenizer::Impl {
  fs::path model_path;
  TokenizerConfig config;
  proto::ModelSummary model;
  std::unique_ptr<Processor> with_prefix;     // the model as it is: dummy prefix per its normalizer
  std::unique_ptr<Processor> without_prefix;  // the same with add_dummy_prefix=false
  std::int64_t piece_count = 0;
  std::int64_t vocabulary_size = 0;
  std::map<std::int64_t, AddedToken> added_by_id;
  std::unordered_map<std::string, std::int64_t> added_by_text;
  std::vector<SpecialString> special_strings;  // longest first
  std::int64_t bos = -1, eos = -1, unk = -1;
  std::optional<std::int64_t> pad;
  std::size_t unk_prefix_length = 0;  // ids of the unknown piece's text encoded without prefix
  std::unordered_map<std::string, std::int64_t> model_piece_ids;

  void check_id(std::int64_t id) const {
    if (id < 0 || id >= vocabulary_size)
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(vocabulary_size) + ") of " + model_path.string());
  }

  proto::PieceType piece_type(std::int64_t id) const {
    return id < piece_count ? model.pieces[static_cast<std::size_t>(id)].type : proto::PieceType::normal;
  }

  std::optional<std::int64_t> lookup(const std::string& piece) const {
    if (auto found = added_by_text.find(piece); found != added_by_text.end()) return found->second;
    if (auto found = model_piece_ids.find(piece); found != model_piece_ids.end()) return found->second;
    return std::nullopt;
  }

  std::string piece_text(std::int64_t id) const {
    check_id(id);
    if (auto found = added_by_id.find(id); found != added_by_id.end()) return found->second.content;
    return model.pieces[static_cast<std::size_t>(id)].text;
  }

  bool special(std::int64_t id) const {
    if (auto found = added_by_id.find(id); found != added_by_id.end()) return found->second.special;
    const auto type = piece_type(id);
    return type == proto::PieceType::control || type == proto::PieceType::unknown;
  }

  // Ids written as their strings by decode rather than through SentencePiece.
  bool decoded_verbatim(std::int64_t id) const {
    if (id >= piece_count || added_by_id.count(id) != 0) return true;
    const auto type = piece_type(id);
    return type == proto::PieceType::control || type == proto::PieceType::unknown;
  }

  // Splits text at special strings (leftmost, then longest match), applying their lstrip/rstrip.
  std::vector<Segment> split_special(std::string_view text) const {
    std::vector<Segment> segments;
    std::size_t text_start = 0;
    std::size_t position = 0;
    while (position < text.size()) {
      const SpecialString* match = nullptr;
      for (const SpecialString& candidate : special_strings) {  // longest first
        if (text.compare(position, candidate.text.size(), candidate.text) == 0) {
          match = &candidate;
          break;
        }
      }
      if (match == nullptr) {
        ++position;
        continue;
      }
      segments.push_back({text.substr(text_start, position - text_start), nullptr});
      segments.push_back({std::string_view(match->text), match});
      position += match->text.size();
      text_start = position;
    }
    segments.push_back({text.substr(text_start), nullptr});
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const SpecialString* special = segments[i].special;
      if (special == nullptr) continue;
      if (special->lstrip && i > 0) {
        std::string_view& left = segments[i - 1].text;
        while (!left.empty() && is_ascii_space(left.back())) left.remove_suffix(1);
      }
      if (special->rstrip && i + 1 < segments.size()) {
        std::string_view& right = segments[i + 1].text;
        while (!right.empty() && is_ascii_space(right.front())) right.remove_prefix(1);
      }
    }
    return segments;
  }

  // transformers' LlamaTokenizer._tokenize with legacy=False: text that starts with a space keeps
  // it as "▁" (encoding "<unk>" + text and dropping the pieces of "<unk>" stops SentencePiece
  // from treating the space as removable leading whitespace); other text gets no prefix.
  std::vector<std::int64_t> encode_without_prefix(std::string_view text) const {
    if (text.empty()) return {};
    if (text.front() != ' ' && !starts_with(text, kSpaceSymbol)) return without_prefix->encode(text);
    const std::string& unk_text = model.pieces[static_cast<std::size_t>(unk)].text;
    std::vector<std::int64_t> ids = without_prefix->encode(unk_text + std::string(text));
    if (ids.size() >= unk_prefix_length) ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(unk_prefix_length));
    return ids;
  }

  std::string decode_ids(const std::vector<std::int64_t>& ids, bool skip_special_tokens, bool keep_leading_space) const {
    std::string text;
    std::vector<std::int32_t> run;
    bool at_start = !keep_leading_space;
    auto flush = [&] {
      if (run.empty()) return;
      std::string decoded = with_prefix->decode(run);
      // SentencePiece drops the space of a leading "▁"; inside the text it was a real space.
      if (!at_start && starts_with(model.pieces[static_cast<std::size_t>(run.front())].text, kSpaceSymbol) &&
          !starts_with(decoded, " "))
        decoded.insert(decoded.begin(), ' ');
      text += decoded;
      at_start = false;
      run.clear();
    };
    for (const std::int64_t id : ids) {
      check_id(id);
      if (!decoded_verbatim(id)) {
        run.push_back(static_cast<std::int32_t>(id));
        continue;
      }
      if (skip_special_tokens && special(id)) continue;
      flush();
      text += piece_text(id);
      at_start = false;
    }
    flush();
    return text;
  }
};

SentencePieceTokenizer::SentencePieceTokenizer(const fs::path& model_file, TokenizerConfig config)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.model_path = model_file;
  impl.config = std::move(config);
  const std::string serialized = read_file(model_file);
  try {
    impl.model = proto::parse_model(serialized);
  } catch (const std::invalid_argument& e) {
    throw_input_error(model_file.string(), 0, std::string("not a valid SentencePiece model: ") + e.what());
  }
  if (impl.model.pieces.empty()) throw_input_error(model_file.string(), 0, "not a valid SentencePiece model: no pieces");
  impl.with_prefix = std::make_unique<Processor>(serialized, model_file);
  impl.without_prefix = std::make_unique<Processor>(proto::with_add_dummy_prefix(serialized, false), model_file);
  impl.piece_count = impl.with_prefix->piece_size();
  if (impl.piece_count != static_cast<std::int64_t>(impl.model.pieces.size()))
    throw_input_error(model_file.string(), 0, "SentencePiece reports " + std::to_string(impl.piece_count) +
                                                  " pieces but the file holds " + std::to_string(impl.model.pieces.size()));
  for (std::int64_t id = 0; id < impl.piece_count; ++id)
    impl.model_piece_ids.emplace(impl.model.pieces[static_cast<std::size_t>(id)].text, id);

  impl.vocabulary_size = impl.piece_count;
  for (const AddedToken& token : impl.config.added_tokens) {
    if (token.id < 0) throw_input_error(impl.config.path.string(), 0, "added_tokens_decoder: negative id " + std::to_string(token.id));
    impl.added_by_id[token.id] = token;
    impl.added_by_text[token.content] = token.id;
    impl.vocabulary_size = std::max(impl.vocabulary_size, token.id + 1);
  }
  for (std::int64_t id = impl.piece_count; id < impl.vocabulary_size; ++id)
    if (impl.added_by_id.count(id) == 0)
      throw_input_error(impl.config.path.string(), 0, "added_tokens_decoder leaves id " + std::to_string(id) +
                                                          " undefined after the model's " + std::to_string(impl.piece_count) + " pieces");

  // Special ids: the config's token strings when they name a token, else the model's own.
  auto resolve_special = [&](const std::optional<std::string>& configured, std::int32_t which) -> std::int64_t {
    if (configured) {
      if (auto id = impl.lookup(*configured)) return *id;
    }
    return impl.with_prefix->special_id(which);
  };
  impl.unk = resolve_special(impl.config.unk_token, SELM_SP_SPECIAL_UNK);
  impl.bos = resolve_special(impl.config.bos_token, SELM_SP_SPECIAL_BOS);
  impl.eos = resolve_special(impl.config.eos_token, SELM_SP_SPECIAL_EOS);
  const std::int64_t pad = resolve_special(impl.config.pad_token, SELM_SP_SPECIAL_PAD);
  if (pad >= 0) impl.pad = pad;
  if (impl.unk < 0 || impl.unk >= impl.piece_count)
    throw_input_error(model_file.string(), 0, "the model has no unknown piece");

  // Strings that encode_with_special_tokens keeps whole.
  std::map<std::string, SpecialString> specials;
  for (std::int64_t id = 0; id < impl.piece_count; ++id) {
    const proto::Piece& piece = impl.model.pieces[static_cast<std::size_t>(id)];
    const bool atomic = piece.type == proto::PieceType::control || piece.type == proto::PieceType::unknown ||
                        piece.type == proto::PieceType::user_defined;
    if (atomic && !piece.text.empty()) specials[piece.text] = {piece.text, id, false, false};
  }
  for (const AddedToken& token : impl.config.added_tokens)
    if (!token.content.empty()) specials[token.content] = {token.content, token.id, token.lstrip, token.rstrip};
  for (auto& [text, special] : specials) impl.special_strings.push_back(special);
  std::stable_sort(impl.special_strings.begin(), impl.special_strings.end(),
                   [](const SpecialString& a, const SpecialString& b) { return a.text.size() > b.text.size(); });

  impl.unk_prefix_length = impl.without_prefix->encode(impl.model.pieces[static_cast<std::size_t>(impl.unk)].text).size();
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<std::int64_t> SentencePieceTokenizer::encode(std::string_view text) const {
  return impl_->with_prefix->encode(text);
}

std::vector<std::int64_t> SentencePieceTokenizer::encode_continuation(std::string_view text) const {
  return impl_->encode_without_prefix(text);
}

std::vector<std::int64_t> SentencePieceTokenizer::encode_with_special_tokens(std::string_view text) const {
  const Impl& impl = *impl_;
  std::vector<std::int64_t> ids;
  if (impl.config.legacy) {
    for (const Segment& segment : impl.split_special(text)) {
      if (segment.special != nullptr) {
        ids.push_back(segment.special->id);
      } else if (!segment.text.empty()) {
        const auto chunk = impl.with_prefix->encode(segment.text);
        ids.insert(ids.end(), chunk.begin(), chunk.end());
      }
    }
    return ids;
  }
  // legacy=false (transformers' LlamaTokenizer.tokenize): "▁" marks the start of the whole text,
  // literal "▁" characters count as spaces, and no chunk gets SentencePiece's dummy prefix.
  // Like transformers 5's Metaspace pre-tokenizer (prepend_scheme "first"), text that already
  // starts with a space gets no extra "▁": " hi" and "hi" both start with "▁" (checked against
  // transformers 5.17 by the golden test ModelHfGolden).
  if (text.empty()) return ids;
  const bool starts_with_space = text.front() == ' ' || text.rfind(kSpaceSymbol, 0) == 0;
  const std::string prefixed = (impl.config.add_prefix_space && !starts_with_space ? std::string(kSpaceSymbol) : std::string()) +
                               replace_all(text, kSpaceSymbol, " ");
  std::size_t first_special_index = std::string::npos;
  for (const Segment& segment : impl.split_special(prefixed)) {
    if (segment.special != nullptr) {
      if (first_special_index == std::string::npos) first_special_index = ids.size();
      ids.push_back(segment.special->id);
    } else {
      const auto chunk = impl.encode_without_prefix(segment.text);
      ids.insert(ids.end(), chunk.begin(), chunk.end());
    }
  }
  // Text that starts with a special token: the "▁" added in front of it stands alone; drop it.
  if (ids.size() > 1 && first_special_index == 1 && impl.piece_text(ids[0]) == kSpaceSymbol) ids.erase(ids.begin());
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens) const {
  return impl_->decode_ids(ids, skip_special_tokens, /*keep_leading_space=*/false);
}

std::string SentencePieceTokenizer::decode_continuation(const std::vector<std::int64_t>& ids,
                                                        bool skip_special_tokens) const {
  return impl_->decode_ids(ids, skip_special_tokens, /*keep_leading_space=*/true);
}

std::int64_t SentencePieceTokenizer::vocab_size() const { return impl_->vocabulary_size; }
std::int64_t SentencePieceTokenizer::bos_id() const { return impl_->bos; }
std::int64_t SentencePieceTokenizer::eos_id() const { return impl_->eos; }
std::int64_t SentencePieceTokenizer::unk_id() const { return impl_->unk; }
std::optional<std::int64_t> SentencePieceTokenizer::pad_id() const { return impl_->pad; }

std::optional<std::int64_t> SentencePieceTokenizer::token_to_id(const std::string& piece) const {
  return impl_->lookup(piece);
}

std::string SentencePieceTokenizer::id_to_piece(std::int64_t id) const { return impl_->piece_text(id); }

bool SentencePieceTokenizer::is_special(std::int64_t id) const {
  impl_->check_id(id);
  return impl_->special(id);
}

const TokenizerConfig& SentencePieceTokenizer::config() const { return impl_->config; }
const fs::path& SentencePieceTokenizer::model_path() const { return impl_->model_path; }

std::int64_t SentencePieceTokenizer::byte_piece_count() const {
  return std::count_if(impl_->model.pieces.begin(), impl_->model.pieces.end(),
                       [](const proto::Piece& piece) { return piece.type == proto::PieceType::byte; });
}

std::vector<std::int64_t> SentencePieceTokenizer::user_defined_ids() const {
  std::vector<std::int64_t> ids;
  for (std::int64_t id = 0; id < impl_->piece_count; ++id)
    if (impl_->piece_type(id) == proto::PieceType::user_defined) ids.push_back(id);
  return ids;
}

// ---------------------------------------------------------------------------------------------

SentencePieceTrainingResult train_sentencepiece(const std::vector<fs::path>& inputs, std::int64_t vocab_size,
                                                const fs::path& output_model,
                                                const SentencePieceTrainingOptions& options) {
  if (inputs.empty()) throw InputError("input: no training text files given");
  std::error_code error;
  for (const fs::path& input : inputs)
    if (!fs::is_regular_file(input, error)) throw_input_error(input.string(), 0, "input file not found");
  if (vocab_size <= 0) throw InputError("vocab_size: must be positive, got " + std::to_string(vocab_size));
  if (options.model_type != "unigram" && options.model_type != "bpe")
    throw InputError("model_type: must be unigram or bpe, got '" + options.model_type + "'");
  if (!(options.character_coverage > 0.0 && options.character_coverage <= 1.0))
    throw InputError("character_coverage: must be in (0, 1], got " + std::to_string(options.character_coverage));
  if (options.threads < 1) throw InputError("threads: must be at least 1, got " + std::to_string(options.threads));
  std::string user_symbols;
  for (const std::string& symbol : options.user_defined_symbols) {
    if (symbol.empty() || symbol.find(',') != std::string::npos)
      throw InputError("user_defined_symbols: '" + symbol + "' must be non-empty and contain no comma");
    user_symbols += (user_symbols.empty() ? "" : ",") + symbol;
  }

  const fs::path output_directory = output_model.has_parent_path() ? output_model.parent_path() : fs::path(".");
  fs::create_directories(output_directory);
  // SentencePiece writes <prefix>.model and <prefix>.vocab itself, non-atomically: train into
  // hidden files, then publish the model with an atomic rename.
  const fs::path prefix = output_directory / (".selm-tokenizer-train-" + std::to_string(::getpid()));
  const std::vector<std::pair<std::string, std::string>> arguments = {
      {"model_prefix", prefix.string()},
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(vocab_size)},
      {"character_coverage", std::to_string(options.character_coverage)},
      {"byte_fallback", "true"},
      {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "-1"},
      {"unk_piece", "<unk>"}, {"bos_piece", "<s>"}, {"eos_piece", "</s>"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"split_digits", "true"},
      {"max_sentence_length", "65536"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", std::to_string(options.threads)},
      {"user_defined_symbols", user_symbols},
  };
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : arguments) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  std::vector<std::string> input_strings;
  for (const fs::path& input : inputs) input_strings.push_back(input.string());
  std::vector<const char*> input_paths;
  for (const std::string& input : input_strings) input_paths.push_back(input.c_str());

  auto remove_temporaries = [&] {
    std::error_code ignored;
    fs::remove(prefix.string() + ".model", ignored);
    fs::remove(prefix.string() + ".vocab", ignored);
  };
  const auto start = std::chrono::steady_clock::now();
  shim().set_min_log_level(options.quiet ? 2 : 0);
  char message[2048] = {0};
  const std::int32_t status = shim().train(input_paths.data(), input_paths.size(), keys.data(), values.data(),
                                           keys.size(), message, sizeof message);
  if (status != 0) {
    remove_temporaries();
    throw InputError(std::string("training a SentencePiece model on ") + input_strings.front() +
                     (inputs.size() > 1 ? " and " + std::to_string(inputs.size() - 1) + " more file(s)" : "") +
                     " failed: " + message);
  }
  std::string serialized;
  try {
    serialized = read_file(prefix.string() + ".model");
  } catch (...) {
    remove_temporaries();
    throw;
  }
  remove_temporaries();
  serialized = proto::with_trainer_model_prefix(serialized, output_model.stem().string());
  write_file_atomic(output_model, serialized);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // New tokenizers use transformers' non-legacy handling of text after special tokens.
  TokenizerConfig config;
  config.legacy = false;
  config.bos_token = "<s>";
  config.eos_token = "</s>";
  config.unk_token = "<unk>";
  // User-defined symbols (e.g. <|im_end|>) are special tokens for transformers too.
  {
    const SentencePieceTokenizer plain(output_model, config);
    for (const std::int64_t id : plain.user_defined_ids())
      config.added_tokens.push_back(AddedToken{id, plain.id_to_piece(id), true, false, false});
  }
  const SentencePieceTokenizer tokenizer(output_model, config);
  write_tokenizer_config_files(tokenizer, output_directory, options.chat_template);

  SentencePieceTrainingResult result;
  result.model_path = output_model;
  result.config_path = output_directory / "tokenizer_config.json";
  result.vocab_size = tokenizer.vocab_size();
  result.byte_pieces = tokenizer.byte_piece_count();
  result.special_pieces = 3 + static_cast<std::int64_t>(tokenizer.user_defined_ids().size());
  result.seconds = seconds;
  return result;
}

}  // namespace selm
