// libselm_sentencepiece: the C interface of sentencepiece_shim.h over SentencePiece's C++ API.
// No exception and no C++ type crosses the boundary; every entry point catches everything.
#include "sentencepiece_shim.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

// Exported by libsentencepiece but declared only in its private headers.
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}  // namespace sentencepiece::logging

#define SELM_SP_EXPORT extern "C" __attribute__((visibility("default")))

struct selm_sp_processor {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

void write_error(char* error, std::size_t capacity, const std::string& message) {
  if (error == nullptr || capacity == 0) return;
  const std::size_t size = std::min(message.size(), capacity - 1);
  std::memcpy(error, message.data(), size);
  error[size] = '\0';
}

bool valid_id(const selm_sp_processor* processor, int32_t id) {
  return processor != nullptr && id >= 0 && id < processor->processor.GetPieceSize();
}

// Feeds the trainer the lines of several files in order. Passing paths this way rather than as
// the comma-separated `input` flag keeps paths that contain commas intact.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(std::vector<std::string> paths) : paths_(std::move(paths)) { advance(); }
  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return status_; }

 private:
  void advance() {
    while (!done_) {
      if (file_.is_open() && std::getline(file_, line_)) return;
      if (file_.is_open()) file_.close();
      if (next_path_ == paths_.size()) {
        done_ = true;
        return;
      }
      const std::string& path = paths_[next_path_++];
      file_.open(path, std::ios::binary);
      if (!file_.is_open()) {
        status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound, "cannot open " + path);
        done_ = true;
      }
    }
  }

  std::vector<std::string> paths_;
  std::size_t next_path_ = 0;
  std::ifstream file_;
  std::string line_;
  bool done_ = false;
  sentencepiece::util::Status status_;
};

}  // namespace

SELM_SP_EXPORT int32_t selm_sp_abi_version(void) { return SELM_SP_SHIM_ABI_VERSION; }

SELM_SP_EXPORT void selm_sp_set_min_log_level(int32_t level) {
  sentencepiece::logging::SetMinLogLevel(level);
}

SELM_SP_EXPORT selm_sp_processor* selm_sp_load(const char* model_bytes, size_t model_size, char* error,
                                               size_t error_capacity) {
  try {
    auto* handle = new selm_sp_processor;
    const auto status = handle->processor.LoadFromSerializedProto(std::string_view(model_bytes, model_size));
    if (!status.ok()) {
      write_error(error, error_capacity, status.ToString());
      delete handle;
      return nullptr;
    }
    return handle;
  } catch (const std::exception& e) {
    write_error(error, error_capacity, e.what());
  } catch (...) {
    write_error(error, error_capacity, "unknown error while loading a SentencePiece model");
  }
  return nullptr;
}

SELM_SP_EXPORT void selm_sp_free(selm_sp_processor* processor) { delete processor; }

SELM_SP_EXPORT int32_t selm_sp_piece_size(const selm_sp_processor* processor) {
  return processor == nullptr ? 0 : processor->processor.GetPieceSize();
}

SELM_SP_EXPORT int32_t selm_sp_special_id(const selm_sp_processor* processor, int32_t which) {
  if (processor == nullptr) return -1;
  const auto& sp = processor->processor;
  switch (which) {
    case SELM_SP_SPECIAL_UNK: return sp.unk_id();
    case SELM_SP_SPECIAL_BOS: return sp.bos_id();
    case SELM_SP_SPECIAL_EOS: return sp.eos_id();
    case SELM_SP_SPECIAL_PAD: return sp.pad_id();
    default: return -1;
  }
}

SELM_SP_EXPORT int32_t selm_sp_piece_kind(const selm_sp_processor* processor, int32_t id) {
  if (!valid_id(processor, id)) return -1;
  const auto& sp = processor->processor;
  if (sp.IsUnknown(id)) return SELM_SP_PIECE_UNKNOWN;
  if (sp.IsControl(id)) return SELM_SP_PIECE_CONTROL;
  if (sp.IsByte(id)) return SELM_SP_PIECE_BYTE;
  if (sp.IsUnused(id)) return SELM_SP_PIECE_UNUSED;
  return SELM_SP_PIECE_NORMAL;
}

SELM_SP_EXPORT int32_t selm_sp_piece_to_id(const selm_sp_processor* processor, const char* piece,
                                           size_t piece_size) {
  if (processor == nullptr) return -1;
  try {
    const std::string_view wanted(piece, piece_size);
    const int id = processor->processor.PieceToId(wanted);
    // PieceToId answers unk_id for a missing piece: only the unknown piece itself maps there.
    if (processor->processor.IdToPiece(id) != wanted) return -1;
    return id;
  } catch (...) {
    return -1;
  }
}

SELM_SP_EXPORT int64_t selm_sp_id_to_piece(const selm_sp_processor* processor, int32_t id, char* piece,
                                           size_t capacity) {
  if (!valid_id(processor, id)) return -1;
  const std::string& text = processor->processor.IdToPiece(id);
  if (piece != nullptr) std::memcpy(piece, text.data(), std::min(text.size(), capacity));
  return static_cast<int64_t>(text.size());
}

SELM_SP_EXPORT int64_t selm_sp_encode(const selm_sp_processor* processor, const char* text, size_t text_size,
                                      int32_t* ids, size_t capacity, char* error, size_t error_capacity) {
  if (processor == nullptr) {
    write_error(error, error_capacity, "no SentencePiece model loaded");
    return -1;
  }
  try {
    std::vector<int> encoded;
    const auto status = processor->processor.Encode(std::string_view(text, text_size), &encoded);
    if (!status.ok()) {
      write_error(error, error_capacity, status.ToString());
      return -1;
    }
    if (ids != nullptr) std::copy_n(encoded.begin(), std::min(encoded.size(), capacity), ids);
    return static_cast<int64_t>(encoded.size());
  } catch (const std::exception& e) {
    write_error(error, error_capacity, e.what());
  } catch (...) {
    write_error(error, error_capacity, "unknown error while encoding");
  }
  return -1;
}

SELM_SP_EXPORT int64_t selm_sp_decode(const selm_sp_processor* processor, const int32_t* ids, size_t count,
                                      char* text, size_t capacity, char* error, size_t error_capacity) {
  if (processor == nullptr) {
    write_error(error, error_capacity, "no SentencePiece model loaded");
    return -1;
  }
  try {
    const std::vector<int> pieces(ids, ids + count);
    for (const int id : pieces) {
      if (!valid_id(processor, id)) {
        write_error(error, error_capacity, "token id " + std::to_string(id) + " is out of range");
        return -1;
      }
    }
    std::string decoded;
    const auto status = processor->processor.Decode(pieces, &decoded);
    if (!status.ok()) {
      write_error(error, error_capacity, status.ToString());
      return -1;
    }
    if (text != nullptr) std::memcpy(text, decoded.data(), std::min(decoded.size(), capacity));
    return static_cast<int64_t>(decoded.size());
  } catch (const std::exception& e) {
    write_error(error, error_capacity, e.what());
  } catch (...) {
    write_error(error, error_capacity, "unknown error while decoding");
  }
  return -1;
}

SELM_SP_EXPORT int32_t selm_sp_train(const char* const* input_paths, size_t input_count, const char* const* keys,
                                     const char* const* values, size_t count, char* error, size_t error_capacity) {
  try {
    std::unordered_map<std::string, std::string> arguments;
    for (size_t i = 0; i < count; ++i) arguments[keys[i]] = values[i];
    LineIterator lines(std::vector<std::string>(input_paths, input_paths + input_count));
    const auto status = sentencepiece::SentencePieceTrainer::Train(arguments, &lines);
    if (!status.ok()) {
      write_error(error, error_capacity, status.ToString());
      return -1;
    }
    return 0;
  } catch (const std::exception& e) {
    write_error(error, error_capacity, e.what());
  } catch (...) {
    write_error(error, error_capacity, "unknown error while training");
  }
  return -1;
}
