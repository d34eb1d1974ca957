// The torch-free safetensors header parser on byte buffers: hostile sizes are refused before
// anything is read or allocated, and the index of a sharded checkpoint.
#include "selm/model/safetensors_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "selm/util/error.hpp"

namespace selm {
namespace SELM_UNITY_ID {

std::string length_prefix(std::uint64_t length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes;
}

// A file of the given header followed by `data_size` bytes of data.
std::string file_of(const std::string& header, std::size_t data_size) {
  return length_prefix(header.size()) + header + std::string(data_size, '\x5a');
}

std::string message_of(const std::string& bytes, std::uint64_t file_size) {
  try {
    parse_safetensors_header(bytes, file_size, "m/model.safetensors");
  } catch (const InputError& error) {
    return error.what();
  }
  return "no error";
}

TEST(ModelSafetensorsHeader, ParsesAValidHeader) {
  const std::string bytes = file_of(
      R"({"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("__metadata__":{"format":"pt"}})",
      12);
  const SafetensorsHeader header = parse_safetensors_header(bytes, bytes.size(), "m/model.safetensors");
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.tensors[0].name, "a");  // in data order
  EXPECT_EQ(header.tensors[0].element_size, 4u);
  EXPECT_EQ(header.tensors[1].dtype, "BF16");
  EXPECT_EQ(header.tensors[1].shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(header.data_start, bytes.size() - 12);
  EXPECT_EQ(header.metadata.at("format"), "pt");
  // The format's dtypes that LibTorch lacks still parse; the reader refuses them.
  EXPECT_EQ(safetensors_element_size("U32"), 4u);
  EXPECT_EQ(safetensors_element_size("F8_E9M9"), 0u);
}

TEST(ModelSafetensorsHeader, HostileLengthsAreRefusedBeforeReadingTheHeader) {
  // 2^60 in a 16-byte file: refused from the first 8 bytes alone.
  const std::string huge = length_prefix(std::uint64_t{1} << 60) + "{}      ";
  EXPECT_EQ(message_of(huge, huge.size()),
            "m/model.safetensors: header length 1152921504606846976 runs past the end of the file (16 bytes): "
            "truncated file or corrupt header length");
  // Even a file that large may not have a header of 2^60 bytes: only the 8 bytes are handed over.
  EXPECT_EQ(message_of(length_prefix(std::uint64_t{1} << 60), std::uint64_t{1} << 62),
            "m/model.safetensors: header length 1152921504606846976 exceeds the limit of 100000000 bytes");
  EXPECT_NE(message_of(length_prefix(~std::uint64_t{0}), ~std::uint64_t{0}).find("runs past the end"), std::string::npos);
  EXPECT_NE(message_of(length_prefix(~std::uint64_t{0}), 100).find("runs past the end"), std::string::npos);
  EXPECT_EQ(message_of("", 3), "m/model.safetensors: truncated file: 3 bytes, shorter than the 8-byte header length");
}

TEST(ModelSafetensorsHeader, TensorsPastTheFileOrOverflowingAreRefused) {
  // Offsets past the data buffer of a file that claims to be large but is not.
  const std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  const std::string prefix = length_prefix(header.size()) + header;
  EXPECT_NE(message_of(prefix, prefix.size() + 8).find("run past the end of the file (data buffer holds 8 bytes)"),
            std::string::npos);
  EXPECT_EQ(message_of(prefix, prefix.size() + 16), "no error");  // the data itself is not needed
  const std::string far = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551611,18446744073709551615]}})";
  EXPECT_NE(message_of(file_of(far, 4), far.size() + 12).find("run past the end of the file"), std::string::npos);
  // Shape products that overflow 64 bits are caught, not wrapped to a small byte size: 2^32 x
  // 2^32 x 16 wraps to 0 elements, and 2^62 F32 elements to 0 bytes.
  for (const char* shape : {"[4294967296,4294967296,16]", "[4611686018427387904]", "[9223372036854775807,2]"}) {
    SCOPED_TRACE(shape);
    const std::string overflowing =
        std::string(R"({"w":{"dtype":"F32","shape":)") + shape + R"(,"data_offsets":[0,0]}})";
    const std::string message = message_of(file_of(overflowing, 0), overflowing.size() + 8);
    EXPECT_NE(message.find("is too large (tensor w)"), std::string::npos) << message;
    EXPECT_EQ(message.rfind("m/model.safetensors: ", 0), 0u) << message;
  }
  const std::string beyond_int64 = R"({"w":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]}})";
  EXPECT_NE(message_of(file_of(beyond_int64, 0), beyond_int64.size() + 8).find("too large (tensor w)"), std::string::npos);
}

// Regressions found by fuzzing: nesting a million deep parsed, then overflowed the stack when
// the message quoted the value.
TEST(ModelSafetensorsHeader, DeepNestingIsRefused) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[)" + std::string(1'000'000, '[') +
                             std::string(1'000'000, ']') + R"(],"data_offsets":[0,4]}})";
  EXPECT_NE(message_of(file_of(header, 4), header.size() + 12).find("m/model.safetensors: JSON nested deeper than 512"),
            std::string::npos);
}

TEST(ModelSafetensorsHeader, IndexOfShards) {
  const SafetensorsIndex index = parse_safetensors_index(
      R"({"metadata":{"total_size":24},"weight_map":{"b":"model-2.safetensors","a":"model-1.safetensors","c":"model-2.safetensors"}})",
      "m/model.safetensors.index.json");
  EXPECT_EQ(index.weight_map.size(), 3u);
  EXPECT_EQ(index.shard_names, (std::vector<std::string>{"model-1.safetensors", "model-2.safetensors"}));
  const auto error = [](const std::string& text) {
    try {
      parse_safetensors_index(text, "m/model.safetensors.index.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string where = "m/model.safetensors.index.json: ";
  EXPECT_EQ(error("{").rfind(where + "invalid JSON at byte ", 0), 0u);
  EXPECT_EQ(error(R"({"weight_map":{"a":1e309}})"), where + "invalid JSON: a number is out of range");
  EXPECT_EQ(error(R"({"weight_map":[]})"), where + "key 'weight_map': missing or not an object");
  EXPECT_EQ(error(R"([1])"), where + "key 'weight_map': missing or not an object");
  EXPECT_EQ(error(R"({"weight_map":{}})"), where + "key 'weight_map': lists no tensors");
  EXPECT_EQ(error(R"({"weight_map":{"a":7}})"), where + "shard of tensor 'a' is not a file name");
  for (const char* name : {"", "/etc/passwd", "../x.safetensors", "sub/../../x", "a\\u0000b"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(error(std::string(R"({"weight_map":{"a":")") + name + "\"}}").rfind(where + "invalid shard file name", 0), 0u);
  }
  EXPECT_NE(error(std::string(100'000, '{')).find("nested deeper than 512 levels"), std::string::npos);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm
