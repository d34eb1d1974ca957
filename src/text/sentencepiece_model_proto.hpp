// Reading and patching a serialized SentencePiece ModelProto (tokenizer.model) without the
// protobuf library: Debian ships no sentencepiece_model.pb.h, and the few fields selm needs are
// easy to read from the wire format directly. Private to the text area.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace selm::sentencepiece_proto {

// Values of ModelProto.SentencePiece.Type.
enum class PieceType : int { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

struct Piece {
  std::string text;
  float score = 0.0f;
  PieceType type = PieceType::normal;
};

// NormalizerSpec fields that change how text is split (proto defaults when absent).
struct Normalizer {
  std::string name;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

struct ModelSummary {
  std::vector<Piece> pieces;  // index = id
  Normalizer normalizer;
};

// Parses the fields above. Throws std::invalid_argument when the bytes are not a valid message.
ModelSummary parse_model(std::string_view serialized);

// The same model with NormalizerSpec.add_dummy_prefix set to `value`: a second normalizer_spec
// field is appended, which protobuf merges over the first (a later scalar field wins).
std::string with_add_dummy_prefix(std::string_view serialized, bool value);

// The same model with TrainerSpec.model_prefix (the temporary path SentencePiece trained into,
// recorded in the model) replaced, so that the bytes do not depend on where training ran.
std::string with_trainer_model_prefix(std::string_view serialized, std::string_view model_prefix);

}  // namespace selm::sentencepiece_proto
