// The header of a safetensors file and the index of a sharded checkpoint, parsed and validated
// without LibTorch, so that the checks run (and are fuzzed) in the torch-free builds too.
//
// File layout: an 8-byte little-endian u64 N, N bytes of JSON header
//   {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"format": "pt"}}
// then the data buffer; offsets are relative to the start of the data buffer.
//
// model.safetensors.index.json: {"metadata": {...}, "weight_map": {"TENSOR": "SHARD FILE", ...}}.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace selm {

// Real checkpoints have headers of a few hundred KB; the reference implementation refuses more
// than 100 MB, and so do we, so a corrupt length cannot make us parse gigabytes.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// One entry of a safetensors header, after validation.
struct SafetensorsHeaderEntry {
  std::string name;
  std::string dtype;                 // as stored: "F32", "F16", "BF16", ...
  std::uint64_t element_size = 0;    // bytes per element of dtype
  std::vector<std::int64_t> shape;   // empty for a 0-d (scalar) tensor
  std::uint64_t begin = 0;           // byte offsets relative to the data buffer: [begin, end)
  std::uint64_t end = 0;

  std::uint64_t byte_size() const { return end - begin; }
};

struct SafetensorsHeader {
  std::uint64_t data_start = 0;                  // 8 + header length: where the data buffer starts
  std::vector<SafetensorsHeaderEntry> tensors;   // sorted by begin offset
  std::map<std::string, std::string> metadata;   // "__metadata__" (string to string)
};

// The length N of the JSON header, from the file's first 8 bytes, checked against `file_size`
// (a length past the end of the file or above kMaxSafetensorsHeaderBytes is refused here,
// before anything reads or allocates N bytes). InputError "PATH: <problem>".
std::uint64_t safetensors_header_length(std::string_view first_bytes, std::uint64_t file_size, const std::string& path);

// Parses and validates the header of a file of `file_size` bytes whose first bytes are
// `file_bytes` (at least 8 + N of them, or the whole file when it is shorter; the data buffer
// itself is not needed). Checks: the JSON, duplicate names, dtypes of the safetensors format,
// shapes (no negative sizes, element counts and byte sizes without overflow), offsets within the
// data buffer, byte sizes matching shape x dtype, no overlapping tensors. Each failure is an
// InputError "PATH: <problem> (tensor NAME)". Dtypes outside the format are refused; which of
// the format's dtypes a reader can hold is the reader's business.
SafetensorsHeader parse_safetensors_header(std::string_view file_bytes, std::uint64_t file_size,
                                           const std::string& path);

// Bytes per element of a safetensors dtype name, 0 for a name the format does not define.
std::uint64_t safetensors_element_size(const std::string& dtype);

// "[2, 3]", the shape as messages print it.
std::string safetensors_shape_text(const std::vector<std::int64_t>& shape);

// The weight_map of a model.safetensors.index.json.
struct SafetensorsIndex {
  std::vector<std::pair<std::string, std::string>> weight_map;  // tensor -> shard file name, as listed
  std::vector<std::string> shard_names;                         // distinct shard names, first-listed order
};

// Parses the text of model.safetensors.index.json. Invalid JSON, a missing or empty weight_map, a
// shard that is not a string, or a shard name that is empty, absolute, contains ".." (which
// would read outside the model directory) or a NUL byte is an InputError "PATH: ...". Whether the shards
// exist is the caller's business.
SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& path);

}  // namespace selm
