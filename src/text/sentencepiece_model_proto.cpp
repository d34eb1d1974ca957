#include "sentencepiece_model_proto.hpp"

#include <cstring>
#include <stdexcept>

namespace selm::sentencepiece_proto {
namespace {

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

// Field numbers (sentencepiece_model.proto).
constexpr std::uint64_t kModelPieces = 1;
constexpr std::uint64_t kModelTrainerSpec = 2;
constexpr std::uint64_t kModelNormalizerSpec = 3;
constexpr std::uint64_t kTrainerModelPrefix = 2;
constexpr std::uint64_t kPieceText = 1;
constexpr std::uint64_t kPieceScore = 2;
constexpr std::uint64_t kPieceType = 3;
constexpr std::uint64_t kNormalizerName = 1;
constexpr std::uint64_t kNormalizerAddDummyPrefix = 3;
constexpr std::uint64_t kNormalizerRemoveExtraWhitespaces = 4;
constexpr std::uint64_t kNormalizerEscapeWhitespaces = 5;

struct Field {
  std::uint64_t number = 0;
  int wire_type = 0;
  std::uint64_t varint = 0;      // kVarint, kFixed32 and kFixed64 payloads
  std::string_view bytes;        // kLengthDelimited payload
};

// Walks the fields of one message.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return position_ >= data_.size(); }
  std::size_t position() const { return position_; }

  Field next() {
    Field field;
    const std::uint64_t tag = read_varint();
    field.number = tag >> 3;
    field.wire_type = static_cast<int>(tag & 7);
    switch (field.wire_type) {
      case kVarint: field.varint = read_varint(); break;
      case kFixed64: field.varint = read_fixed(8); break;
      case kFixed32: field.varint = read_fixed(4); break;
      case kLengthDelimited: {
        const std::uint64_t size = read_varint();
        if (size > data_.size() - position_) throw std::invalid_argument("truncated length-delimited field");
        field.bytes = data_.substr(position_, size);
        position_ += size;
        break;
      }
      default: throw std::invalid_argument("unsupported protobuf wire type " + std::to_string(field.wire_type));
    }
    return field;
  }

 private:
  std::uint64_t read_varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (position_ >= data_.size()) throw std::invalid_argument("truncated varint");
      const auto byte = static_cast<unsigned char>(data_[position_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    throw std::invalid_argument("varint longer than 10 bytes");
  }

  std::uint64_t read_fixed(std::size_t size) {
    if (size > data_.size() - position_) throw std::invalid_argument("truncated fixed-size field");
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i)
      value |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[position_ + i])) << (8 * i);
    position_ += size;
    return value;
  }

  std::string_view data_;
  std::size_t position_ = 0;
};

Piece parse_piece(std::string_view message) {
  Piece piece;
  Reader reader(message);
  while (!reader.done()) {
    const Field field = reader.next();
    if (field.number == kPieceText && field.wire_type == kLengthDelimited) {
      piece.text = std::string(field.bytes);
    } else if (field.number == kPieceScore && field.wire_type == kFixed32) {
      const auto bits = static_cast<std::uint32_t>(field.varint);
      std::memcpy(&piece.score, &bits, sizeof piece.score);
    } else if (field.number == kPieceType && field.wire_type == kVarint) {
      piece.type = static_cast<PieceType>(field.varint);
    }
  }
  return piece;
}

// Merges one serialized NormalizerSpec into `normalizer` (later fields win, as in protobuf).
void merge_normalizer(std::string_view message, Normalizer& normalizer) {
  Reader reader(message);
  while (!reader.done()) {
    const Field field = reader.next();
    if (field.number == kNormalizerName && field.wire_type == kLengthDelimited) {
      normalizer.name = std::string(field.bytes);
    } else if (field.wire_type == kVarint) {
      if (field.number == kNormalizerAddDummyPrefix) normalizer.add_dummy_prefix = field.varint != 0;
      if (field.number == kNormalizerRemoveExtraWhitespaces) normalizer.remove_extra_whitespaces = field.varint != 0;
      if (field.number == kNormalizerEscapeWhitespaces) normalizer.escape_whitespaces = field.varint != 0;
    }
  }
}

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

void append_length_delimited(std::string& out, std::uint64_t field_number, std::string_view payload) {
  append_varint(out, (field_number << 3) | kLengthDelimited);
  append_varint(out, payload.size());
  out.append(payload);
}

// `message` with every length-delimited field `field_number` passed through `rewrite`; other
// fields are copied byte for byte.
template <class Rewrite>
std::string rewrite_field(std::string_view message, std::uint64_t field_number, Rewrite rewrite) {
  std::string out;
  Reader reader(message);
  while (!reader.done()) {
    const std::size_t start = reader.position();
    const Field field = reader.next();
    if (field.number == field_number && field.wire_type == kLengthDelimited) {
      append_length_delimited(out, field_number, rewrite(field.bytes));
    } else {
      out.append(message.substr(start, reader.position() - start));
    }
  }
  return out;
}

}  // namespace

std::string with_trainer_model_prefix(std::string_view serialized, std::string_view model_prefix) {
  return rewrite_field(serialized, kModelTrainerSpec, [&](std::string_view trainer_spec) {
    return rewrite_field(trainer_spec, kTrainerModelPrefix, [&](std::string_view) { return std::string(model_prefix); });
  });
}

ModelSummary parse_model(std::string_view serialized) {
  ModelSummary summary;
  Reader reader(serialized);
  while (!reader.done()) {
    const Field field = reader.next();
    if (field.wire_type != kLengthDelimited) continue;
    if (field.number == kModelPieces) summary.pieces.push_back(parse_piece(field.bytes));
    if (field.number == kModelNormalizerSpec) merge_normalizer(field.bytes, summary.normalizer);
  }
  return summary;
}

std::string with_add_dummy_prefix(std::string_view serialized, bool value) {
  // normalizer_spec { add_dummy_prefix: value }: tag (3 << 3 | 2), length 2, tag (3 << 3 | 0), value.
  std::string patched(serialized);
  patched += static_cast<char>((kModelNormalizerSpec << 3) | kLengthDelimited);
  patched += static_cast<char>(2);
  patched += static_cast<char>((kNormalizerAddDummyPrefix << 3) | kVarint);
  patched += static_cast<char>(value ? 1 : 0);
  return patched;
}

}  // namespace selm::sentencepiece_proto
