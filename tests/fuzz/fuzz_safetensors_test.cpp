// Fuzzing the safetensors header parser (whole files built in memory, and the headers of the
// committed checkpoints over data buffers of any declared size) and the index of a sharded
// checkpoint. An accepted header must also keep the promises SafetensorsFile relies on: every
// tensor inside the data buffer, byte sizes equal to shape x dtype, no overlaps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/fuzz_harness.hpp"
#include "selm/model/safetensors_header.hpp"
#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

struct TensorSpec {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
};

std::string little_endian_length(std::uint64_t length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes;
}

// A valid file: the tensors' data back to back in the given order, then the metadata.
std::string safetensors_file(const std::vector<TensorSpec>& tensors, const std::string& metadata_json = "") {
  std::string header = "{";
  std::uint64_t offset = 0;
  for (const TensorSpec& tensor : tensors) {
    std::uint64_t bytes = safetensors_element_size(tensor.dtype);
    std::string shape = "[";
    for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
      shape += (i ? "," : "") + std::to_string(tensor.shape[i]);
      bytes *= tensor.shape[i];
    }
    shape += "]";
    if (header.size() > 1) header += ",";
    header += "\"" + tensor.name + "\":{\"dtype\":\"" + tensor.dtype + "\",\"shape\":" + shape +
              ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  if (!metadata_json.empty()) header += std::string(header.size() > 1 ? "," : "") + "\"__metadata__\":" + metadata_json;
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data(offset, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 37 + 11);
  return little_endian_length(header.size()) + header + data;
}

const std::vector<std::string>& safetensors_dictionary() {
  static const std::vector<std::string> words = {
      "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"", "\"BF16\"",
      "\"I64\"", "\"BOOL\"", "\"U32\"", "\"F8_E4M3\"", "\"F64\"", "[0,0]", "[0,4]", "[]", "[[]]",
      "[4294967296,4294967296,16]", "[9223372036854775807]", "[18446744073709551615,0]",
      "{\"format\":\"pt\"}", "\"w\":{}", ",\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}",
  };
  return words;
}

// What SafetensorsFile relies on once a header is accepted.
void check_accepted_header(const SafetensorsHeader& header, std::uint64_t file_size) {
  if (header.data_start < 8 || header.data_start > file_size) throw std::logic_error("data_start outside the file");
  const std::uint64_t data_size = file_size - header.data_start;
  std::uint64_t furthest_end = 0;
  for (std::size_t i = 0; i < header.tensors.size(); ++i) {
    const SafetensorsHeaderEntry& entry = header.tensors[i];
    if (entry.begin > entry.end || entry.end > data_size) throw std::logic_error("accepted offsets outside the data");
    std::uint64_t bytes = entry.element_size;
    for (const std::int64_t size : entry.shape) {
      if (size < 0) throw std::logic_error("accepted a negative size");
      bytes *= static_cast<std::uint64_t>(size);  // no overflow: the byte size was checked
    }
    if (bytes != entry.byte_size()) throw std::logic_error("accepted a byte size that does not match the shape");
    if (i > 0 && entry.begin < header.tensors[i - 1].begin) throw std::logic_error("tensors not sorted");
    if (entry.byte_size() > 0) {
      if (entry.begin < furthest_end) throw std::logic_error("accepted overlapping tensors");
      furthest_end = std::max(furthest_end, entry.end);
    }
  }
}

void parse_whole_file(const std::string& bytes) {
  const SafetensorsHeader header = parse_safetensors_header(bytes, bytes.size(), "fuzz.safetensors");
  check_accepted_header(header, bytes.size());
}

TEST(FuzzSafetensors, WholeFilesInMemory) {
  const std::vector<std::string> corpus = {
      safetensors_file({{"w", "F32", {2, 3}}}),
      safetensors_file({{"model.embed_tokens.weight", "BF16", {4, 3}},
                        {"model.norm.weight", "F16", {3}},
                        {"scalar", "F64", {}},
                        {"empty", "I64", {0, 5}},
                        {"flags", "BOOL", {3}}},
                       R"({"format":"pt","note":"fuzz"})"),
      safetensors_file({{"a", "I8", {1}}, {"b", "U8", {2, 1}}, {"c", "I16", {1, 1, 1}}, {"d", "I32", {2}}}),
      safetensors_file({{"unsupported", "U32", {2}}, {"fp8", "F8_E5M2", {4}}}),
      safetensors_file({}, R"({"format":"pt"})"),
  };
  const fuzz::FuzzReport report = fuzz::run_fuzz("safetensors_file", corpus, parse_whole_file, 6000, 20261202,
                                                  safetensors_dictionary());
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

// "DATA_SIZE\nHEADER": the header (its length prefix computed here) of a file whose data buffer
// holds DATA_SIZE bytes, which are never allocated: only the header's bytes are handed over.
void parse_declared_header(const std::string& bytes) {
  const std::size_t newline = bytes.find('\n');
  const std::string size_text = bytes.substr(0, std::min(newline, bytes.size()));
  const std::string header = newline == std::string::npos ? std::string() : bytes.substr(newline + 1);
  std::uint64_t data_size = 0;
  for (const char c : size_text) {
    if (c < '0' || c > '9') break;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    data_size = data_size > (std::numeric_limits<std::uint64_t>::max() - digit) / 10
                    ? std::numeric_limits<std::uint64_t>::max()
                    : data_size * 10 + digit;
  }
  const std::uint64_t prefix = 8 + header.size();
  const std::uint64_t file_size =
      data_size > std::numeric_limits<std::uint64_t>::max() - prefix ? std::numeric_limits<std::uint64_t>::max()
                                                                     : prefix + data_size;
  const std::string file_prefix = little_endian_length(header.size()) + header;
  const SafetensorsHeader parsed = parse_safetensors_header(file_prefix, file_size, "fuzz.safetensors");
  check_accepted_header(parsed, file_size);
}

TEST(FuzzSafetensors, HeadersOfCommittedCheckpoints) {
  std::vector<std::string> corpus;
  for (const auto& entry : fs::recursive_directory_iterator(test::test_data_dir() / "hf")) {
    if (entry.path().extension() != ".safetensors") continue;
    const std::string bytes = test::read_text(entry.path());
    const std::uint64_t length = safetensors_header_length(bytes, bytes.size(), entry.path().string());
    corpus.push_back(std::to_string(bytes.size() - 8 - length) + "\n" + bytes.substr(8, length));
  }
  ASSERT_GE(corpus.size(), 5u);
  std::sort(corpus.begin(), corpus.end());  // directory order is not fixed; the cases must be
  const fuzz::FuzzReport report = fuzz::run_fuzz("safetensors_header", corpus, parse_declared_header, 3000,
                                                  20261202, safetensors_dictionary());
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

void parse_index(const std::string& bytes) {
  const SafetensorsIndex index = parse_safetensors_index(bytes, "model.safetensors.index.json");
  if (index.weight_map.empty() || index.shard_names.empty()) throw std::logic_error("accepted an empty weight_map");
  for (const std::string& shard : index.shard_names) {
    if (shard.empty() || shard.front() == '/' || shard.find("..") != std::string::npos) {
      throw std::logic_error("accepted a shard name outside the model directory: " + shard);
    }
  }
}

TEST(FuzzSafetensors, ShardIndex) {
  const std::vector<std::string> corpus = {
      test::read_text(test::test_data_dir() / "hf" / "hf_made" / "llama_sharded" / "model.safetensors.index.json"),
      R"({"metadata":{"total_size":16},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})",
      R"({"weight_map":{"lm_head.weight":"sub/model.safetensors"}})",
  };
  const std::vector<std::string> dictionary = {
      "\"weight_map\"", "\"metadata\"", "\"total_size\"", "\"../x.safetensors\"", "\"/etc/passwd\"", "\"\"",
      "\"model-00001-of-00002.safetensors\"", "\"a\\u0000b\"", "{}", "[]",
  };
  const fuzz::FuzzReport report = fuzz::run_fuzz("safetensors_index", corpus, parse_index, 4000, 20261202, dictionary);
  EXPECT_GT(report.ok, 0u);
  EXPECT_GT(report.input_error, 0u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
