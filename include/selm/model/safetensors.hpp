// Safetensors files (the weight format of Hugging Face model directories); the layout and the
// header's validation are in safetensors_header.hpp, which needs no LibTorch.
//
// The reader memory-maps the file and validates the whole header when it opens it, so that
// every later read is within bounds whatever the bytes of the file are.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace selm {

namespace fs = std::filesystem;

// One entry of a safetensors header, after validation.
struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype;                  // as stored: "F32", "F16", "BF16", ...
  torch::ScalarType scalar_type;      // the matching torch dtype
  std::vector<std::int64_t> shape;    // empty for a 0-d (scalar) tensor
  std::uint64_t begin = 0;            // byte offsets relative to the data buffer: [begin, end)
  std::uint64_t end = 0;

  std::uint64_t byte_size() const { return end - begin; }
};

// A read-only, memory-mapped safetensors file. Every malformed input (truncated file, header
// length past the end, invalid JSON, offsets out of range or overlapping, byte size that does
// not match shape x dtype, unknown dtype, bad shape, duplicate name) is an InputError
// "FILE: <problem> (tensor NAME)" raised by the constructor.
//
// Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. Known dtypes that LibTorch
// 1.13 lacks (F8_E4M3, F8_E5M2, U16, U32, U64) are rejected as unsupported.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const fs::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;

  const fs::path& path() const { return path_; }
  // Tensor names in the order of their data in the file.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws InputError "FILE: no tensor named 'NAME'" when absent.
  const SafetensorsTensorInfo& info(const std::string& name) const;
  // The "__metadata__" entries (string to string); empty when the header has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A new CPU tensor holding a copy of the stored data, in its stored dtype and shape.
  torch::Tensor read(const std::string& name) const;

  // Copies the stored tensor straight from the mapping into `destination` (any device and
  // dtype; the dtype is converted in the same pass), without an intermediate tensor. The shapes
  // must be equal: otherwise InputError "FILE: shape [..] does not match the destination's
  // [..] (tensor NAME)". Runs under NoGradGuard, so `destination` may be a parameter.
  void copy_into(const std::string& name, const torch::Tensor& destination) const;

 private:
  void unmap() noexcept;
  // A tensor over the mapped bytes of `info` (no copy). Only ever read from it.
  torch::Tensor view_of_mapping(const SafetensorsTensorInfo& info) const;

  fs::path path_;
  const unsigned char* mapping_ = nullptr;  // the whole file, read-only
  std::uint64_t file_size_ = 0;
  std::uint64_t data_start_ = 0;           // 8 + header length
  std::vector<SafetensorsTensorInfo> tensors_;  // sorted by begin offset
  std::map<std::string, std::size_t> index_;     // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` in the given order to `path` (data contiguous, little-endian, from CPU copies
// made one tensor at a time), with a header padded with spaces to a multiple of 8 bytes and
// `metadata` as "__metadata__". The file is written to a temporary name, fsynced and renamed
// into place, so a reader never sees a partial file. Duplicate or empty names, undefined
// tensors and dtypes without a safetensors name are InputErrors.
void save_safetensors(const fs::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Safetensors dtype name of a torch dtype ("F32" for Float, ...); InputError when there is none.
std::string safetensors_dtype_name(torch::ScalarType scalar_type);

}  // namespace selm
