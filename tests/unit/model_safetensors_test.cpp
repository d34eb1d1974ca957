#include "selm/model/safetensors.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <random>

#include "selm/util/error.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::TempDir;

std::string file_bytes(const fs::path& path) { return test::read_text(path); }

// Raw bytes of a tensor, for bit-exact comparisons (NaN payloads and -0 included).
std::string tensor_bytes(const torch::Tensor& tensor) {
  const torch::Tensor contiguous = tensor.contiguous();
  return std::string(static_cast<const char*>(contiguous.data_ptr()),
                     static_cast<std::size_t>(contiguous.numel()) * contiguous.element_size());
}

// A safetensors file made by hand: the 8-byte length, `header` verbatim, then `data_size` bytes.
void write_raw(const fs::path& path, const std::string& header, std::size_t data_size) {
  std::string bytes(8, '\0');
  std::uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  bytes += header;
  for (std::size_t i = 0; i < data_size; ++i) bytes.push_back(static_cast<char>(i * 37 + 11));
  test::write_text(path, bytes);
}

// Values that a lossy path would change: signed zero, infinities, NaN, subnormals, extremes.
torch::Tensor tricky_values(torch::ScalarType dtype, std::vector<std::int64_t> shape) {
  torch::manual_seed(7);
  torch::Tensor values = torch::randn(shape, torch::kFloat32) * 100;
  torch::Tensor flat = values.view({-1});
  const std::vector<float> specials = {-0.0f, std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity(), std::nanf(""), 1e-42f, 3e38f};
  for (std::size_t i = 0; i < specials.size() && static_cast<std::int64_t>(i) < flat.numel(); ++i) {
    flat[static_cast<std::int64_t>(i)] = specials[i];
  }
  return values.to(dtype);
}

TEST(ModelSafetensors, SaveThenLoadIsBitExactForFloatTypes) {
  TempDir dir;
  const fs::path path = dir / "weights.safetensors";
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"f32.matrix", tricky_values(torch::kFloat32, {3, 5})},
      {"f16.vector", tricky_values(torch::kFloat16, {7})},
      {"bf16.cube", tricky_values(torch::kBFloat16, {2, 3, 4})},
      {"f32.scalar", torch::tensor(3.25f).reshape({})},
      {"bf16.empty", torch::zeros({0, 3}, torch::kBFloat16)},
      {"i64.ids", torch::arange(-3, 9, torch::kInt64)},
  };
  save_safetensors(path, tensors, {{"format", "pt"}, {"note", "unit test"}});

  const SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "unit test");
  // Data is laid out in the order given.
  const std::vector<std::string> expected_order = {"f32.matrix", "f16.vector", "bf16.cube",
                                                   "f32.scalar", "bf16.empty", "i64.ids"};
  EXPECT_EQ(file.names(), expected_order);
  for (const auto& [name, original] : tensors) {
    SCOPED_TRACE(name);
    const torch::Tensor loaded = file.read(name);
    EXPECT_EQ(loaded.scalar_type(), original.scalar_type());
    EXPECT_EQ(loaded.sizes().vec(), original.sizes().vec());
    EXPECT_EQ(tensor_bytes(loaded), tensor_bytes(original));
  }
  EXPECT_EQ(file.info("f16.vector").dtype, "F16");
  EXPECT_EQ(file.info("bf16.cube").dtype, "BF16");
  EXPECT_EQ(file.info("f32.scalar").shape.size(), 0u);
  EXPECT_EQ(file.info("f32.matrix").begin, 0u);
  EXPECT_EQ(file.info("f32.matrix").end, 60u);
}

TEST(ModelSafetensors, HeaderIsPaddedToEightBytesAndDataFollowsIt) {
  TempDir dir;
  const fs::path path = dir / "a.safetensors";
  const torch::Tensor values = torch::tensor({1.0f, 2.0f, 3.0f});
  save_safetensors(path, {{"x", values}});
  const std::string bytes = file_bytes(path);
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + header_length + 12);
  const std::string header = bytes.substr(8, header_length);
  EXPECT_EQ(header.front(), '{');
  EXPECT_NE(header.find("\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}"), std::string::npos);
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + header_length, sizeof first);
  EXPECT_EQ(first, 1.0f);
  // Written atomically: no temporary file is left next to it.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) entries += entry.is_regular_file();
  EXPECT_EQ(entries, 1);
}

TEST(ModelSafetensors, NonContiguousTensorsAreStoredContiguously) {
  TempDir dir;
  const torch::Tensor base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  const torch::Tensor transposed = base.t();
  save_safetensors(dir / "t.safetensors", {{"t", transposed}});
  const torch::Tensor loaded = SafetensorsFile(dir / "t.safetensors").read("t");
  EXPECT_EQ(loaded.sizes().vec(), (std::vector<std::int64_t>{4, 3}));
  EXPECT_TRUE(torch::equal(loaded, transposed));
}

TEST(ModelSafetensors, CopyIntoConvertsDtypeAndKeepsTheDestination) {
  TempDir dir;
  const torch::Tensor stored = tricky_values(torch::kBFloat16, {4, 6}).nan_to_num(0, 1, -1);
  save_safetensors(dir / "w.safetensors", {{"w", stored}});
  const SafetensorsFile file(dir / "w.safetensors");

  torch::Tensor parameter = torch::zeros({4, 6}, torch::kFloat32).requires_grad_(true);
  file.copy_into("w", parameter);
  EXPECT_EQ(parameter.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(parameter.requires_grad());
  EXPECT_TRUE(torch::equal(parameter.detach(), stored.to(torch::kFloat32)));

  torch::Tensor wrong_shape = torch::zeros({6, 4});
  try {
    file.copy_into("w", wrong_shape);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("w.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find("shape [4, 6]"), std::string::npos) << message;
    EXPECT_NE(message.find("(tensor w)"), std::string::npos) << message;
  }
  EXPECT_THROW(file.read("absent"), InputError);
}

TEST(ModelSafetensors, MisalignedDataIsReadCorrectly) {
  TempDir dir;
  const fs::path path = dir / "odd.safetensors";
  // A 1-byte tensor first puts the F32 tensor at an odd address.
  const std::string header =
      R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"v":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  bytes += header;
  bytes.push_back('\x05');
  const float values[2] = {1.5f, -2.25f};
  bytes.append(reinterpret_cast<const char*>(values), sizeof values);
  test::write_text(path, bytes);

  const SafetensorsFile file(path);
  torch::Tensor destination = torch::zeros({2}, torch::kFloat64);
  file.copy_into("v", destination);
  EXPECT_DOUBLE_EQ(destination[0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(destination[1].item<double>(), -2.25);
  EXPECT_EQ(file.read("pad").item<std::uint8_t>(), 5);
}

TEST(ModelSafetensors, WriterRejectsBadInput) {
  TempDir dir;
  const torch::Tensor one = torch::ones({2});
  EXPECT_THROW(save_safetensors(dir / "d.safetensors", {{"a", one}, {"a", one}}), InputError);
  EXPECT_THROW(save_safetensors(dir / "e.safetensors", {{"", one}}), InputError);
  EXPECT_THROW(save_safetensors(dir / "c.safetensors", {{"c", torch::ones({2}, torch::kComplexFloat)}}), InputError);
  EXPECT_FALSE(fs::exists(dir / "d.safetensors"));
}

struct CorruptCase {
  const char* label;
  std::string header;
  std::size_t data_size;
  std::vector<std::string> expected;  // substrings of the message
};

TEST(ModelSafetensors, CorruptHeadersGiveInputErrorsNamingFileAndProblem) {
  const std::vector<CorruptCase> cases = {
      {"offsets past the end", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8,
       {"past the end", "(tensor w)"}},
      {"overlapping tensors",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, {"overlaps tensor 'a'", "(tensor b)"}},
      {"unknown dtype", R"({"w":{"dtype":"F8_E9M9","shape":[2],"data_offsets":[0,2]}})", 2,
       {"unknown dtype 'F8_E9M9'", "(tensor w)"}},
      {"unsupported dtype", R"({"w":{"dtype":"U32","shape":[2],"data_offsets":[0,8]}})", 8,
       {"unsupported dtype 'U32'", "(tensor w)"}},
      {"byte size mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8,
       {"byte size 8", "[3]", "12 bytes", "(tensor w)"}},
      {"begin after end", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8,
       {"begin after", "(tensor w)"}},
      {"negative shape", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4,
       {"negative", "(tensor w)"}},
      {"non-integer shape", R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4,
       {"1.5", "not a non-negative integer", "(tensor w)"}},
      {"duplicate names",
       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, {"duplicate", "(tensor w)"}},
      {"invalid JSON", R"({"w":{"dtype":"F32",)", 4, {"not valid JSON"}},
      {"header not an object", R"([1, 2, 3])", 0, {"not a JSON object"}},
      {"entry not an object", R"({"w":[0, 4]})", 4, {"not a JSON object", "(tensor w)"}},
      {"missing offsets", R"({"w":{"dtype":"F32","shape":[1]}})", 4, {"data_offsets", "(tensor w)"}},
      {"negative offsets", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4, {"data_offsets", "(tensor w)"}},
      {"metadata not strings", R"({"__metadata__":{"format":1}})", 0, {"__metadata__", "format"}},
      {"overflowing shape",
       R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", 0,
       {"too large", "(tensor w)"}},
  };
  TempDir dir;
  for (const CorruptCase& corrupt : cases) {
    SCOPED_TRACE(corrupt.label);
    const fs::path path = dir / "bad.safetensors";
    write_raw(path, corrupt.header, corrupt.data_size);
    try {
      SafetensorsFile file(path);
      ADD_FAILURE() << "expected InputError";
    } catch (const InputError& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
      for (const std::string& part : corrupt.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
    }
  }
}

TEST(ModelSafetensors, TruncatedFilesGiveInputErrors) {
  TempDir dir;
  const fs::path good = dir / "good.safetensors";
  save_safetensors(good, {{"w", torch::ones({16, 16})}});
  const std::string bytes = file_bytes(good);
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[i]);

  const fs::path cut = dir / "cut.safetensors";
  auto message_for = [&](std::size_t keep) {
    test::write_text(cut, bytes.substr(0, keep));
    try {
      SafetensorsFile file(cut);
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  // Inside the data: the tensor's offsets now run past the end.
  const std::string data_cut = message_for(bytes.size() - 100);
  EXPECT_NE(data_cut.find(cut.string() + ": "), std::string::npos) << data_cut;
  EXPECT_NE(data_cut.find("truncated"), std::string::npos) << data_cut;
  EXPECT_NE(data_cut.find("(tensor w)"), std::string::npos) << data_cut;
  // Inside the header: the header length runs past the end.
  const std::string header_cut = message_for(8 + header_length / 2);
  EXPECT_NE(header_cut.find("header length " + std::to_string(header_length) + " runs past the end"),
            std::string::npos) << header_cut;
  EXPECT_NE(header_cut.find("truncated"), std::string::npos) << header_cut;
  // Inside the length itself.
  const std::string length_cut = message_for(5);
  EXPECT_NE(length_cut.find("truncated file: 5 bytes"), std::string::npos) << length_cut;
  EXPECT_NE(message_for(0).find("truncated file: 0 bytes"), std::string::npos);

  // A header length far beyond the file.
  std::string huge = bytes;
  huge[6] = '\x7f';
  test::write_text(cut, huge);
  try {
    SafetensorsFile file(cut);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("runs past the end of the file"), std::string::npos) << error.what();
  }
  EXPECT_THROW(SafetensorsFile(dir / "absent.safetensors"), InputError);
}

// Random bit flips, byte overwrites and truncations of a valid file: opening and reading must
// only ever succeed or throw InputError (a crash or another exception fails the test).
TEST(ModelSafetensors, CorruptedBytesNeverCrash) {
  TempDir dir;
  const fs::path good = dir / "good.safetensors";
  save_safetensors(good, {{"model.embed_tokens.weight", torch::randn({4, 3})},
                          {"model.norm.weight", torch::ones({3}, torch::kBFloat16)},
                          {"lm_head.weight", torch::randn({4, 3}, torch::kFloat16)},
                          {"scalar", torch::tensor(2.0).reshape({})}},
                   {{"format", "pt"}});
  const std::string original = file_bytes(good);
  std::uint64_t header_end = 8;
  for (int i = 7; i >= 0; --i) header_end += static_cast<std::uint64_t>(static_cast<unsigned char>(original[i])) << (8 * i);

  std::mt19937 random(12345);
  auto uniform = [&](std::size_t below) { return std::uniform_int_distribution<std::size_t>(0, below - 1)(random); };
  const fs::path path = dir / "fuzz.safetensors";
  int opened = 0;
  int rejected = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    std::string bytes = original;
    const int mutations = 1 + static_cast<int>(uniform(3));
    for (int m = 0; m < mutations; ++m) {
      // Most mutations hit the length and header, where a reader can go wrong.
      const std::size_t limit = uniform(4) == 0 ? bytes.size() : std::min<std::size_t>(bytes.size(), header_end);
      if (limit == 0) break;
      switch (uniform(4)) {
        case 0: bytes[uniform(limit)] ^= static_cast<char>(1u << uniform(8)); break;
        case 1: bytes[uniform(limit)] = static_cast<char>(uniform(256)); break;
        case 2: bytes[uniform(limit)] = "0123456789[]{},:\"-"[uniform(18)]; break;
        default: bytes.resize(uniform(bytes.size() + 1)); break;
      }
    }
    test::write_text(path, bytes);
    try {
      const SafetensorsFile file(path);
      for (const std::string& name : file.names()) {
        const torch::Tensor value = file.read(name);
        torch::Tensor destination = torch::empty(value.sizes(), torch::kFloat64);
        file.copy_into(name, destination);
      }
      ++opened;
    } catch (const InputError&) {
      ++rejected;
    } catch (const std::exception& error) {
      ADD_FAILURE() << "trial " << trial << ": unexpected exception: " << error.what();
    }
  }
  EXPECT_GT(opened, 0);
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(opened + rejected, 1500);
}

}  // namespace
}  // namespace selm
