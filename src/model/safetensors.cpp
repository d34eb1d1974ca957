#include "selm/model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/util/error.hpp"

namespace selm {

namespace {

// Real checkpoints have headers of a few hundred KB; the reference implementation refuses more
// than 100 MB, and so do we, so a corrupt length cannot make us parse gigabytes.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeEntry {
  const char* name;
  torch::ScalarType scalar_type;
  std::uint64_t element_size;
};

// Safetensors dtypes that LibTorch 1.13 can hold.
constexpr DtypeEntry kSupportedDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},       {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

// Valid safetensors dtypes without a LibTorch 1.13 counterpart.
const std::set<std::string>& unsupported_dtype_names() {
  static const std::set<std::string> names = {"F8_E4M3", "F8_E5M2", "U16", "U32", "U64"};
  return names;
}

const DtypeEntry* find_dtype(const std::string& name) {
  for (const DtypeEntry& entry : kSupportedDtypes) {
    if (name == entry.name) return &entry;
  }
  return nullptr;
}

bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first_byte = 0;
  std::memcpy(&first_byte, &probe, 1);
  return first_byte == 1;
}

void require_little_endian_host() {
  if (!host_is_little_endian()) {
    throw std::runtime_error("safetensors I/O needs a little-endian host");
  }
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string shape_string(torch::IntArrayRef shape) { return shape_string(shape.vec()); }

// A short rendering of a JSON value for messages.
std::string json_excerpt(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reader

SafetensorsFile::SafetensorsFile(const fs::path& path) : path_(path) {
  const std::string file = path.string();
  auto fail = [&](const std::string& problem) -> void { throw InputError(file + ": " + problem); };
  auto fail_tensor = [&](const std::string& name, const std::string& problem) -> void {
    throw InputError(file + ": " + problem + " (tensor " + name + ")");
  };

  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open safetensors file: " + errno_text());
  struct stat file_status {};
  if (::fstat(fd, &file_status) != 0 || !S_ISREG(file_status.st_mode)) {
    ::close(fd);
    fail("not a regular file");
  }
  file_size_ = static_cast<std::uint64_t>(file_status.st_size);
  if (file_size_ < 8) {
    ::close(fd);
    fail("truncated file: " + std::to_string(file_size_) + " bytes, shorter than the 8-byte header length");
  }
  void* mapped = ::mmap(nullptr, file_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);
  if (mapped == MAP_FAILED) {
    errno = mmap_errno;
    throw std::runtime_error(file + ": cannot memory-map file: " + errno_text());
  }
  mapping_ = static_cast<const unsigned char*>(mapped);

  try {
    std::uint64_t header_length = 0;
    for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | mapping_[i];
    if (header_length > file_size_ - 8) {
      fail("header length " + std::to_string(header_length) + " runs past the end of the file (" +
           std::to_string(file_size_) + " bytes): truncated file or corrupt header length");
    }
    if (header_length > kMaxHeaderBytes) {
      fail("header length " + std::to_string(header_length) + " exceeds the limit of " +
           std::to_string(kMaxHeaderBytes) + " bytes");
    }
    data_start_ = 8 + header_length;
    const std::uint64_t data_size = file_size_ - data_start_;

    // nlohmann::json keeps the last of duplicate keys silently; the parse callback sees every
    // key of the top-level object, so duplicates are caught here.
    std::set<std::string> seen_names;
    std::string duplicate_name;
    auto on_parse_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!seen_names.insert(key).second && duplicate_name.empty()) duplicate_name = key;
      }
      return true;
    };
    const char* header_begin = reinterpret_cast<const char*>(mapping_ + 8);
    const nlohmann::json header = nlohmann::json::parse(header_begin, header_begin + header_length,
                                                        on_parse_event, /*allow_exceptions=*/false);
    if (header.is_discarded()) fail("header is not valid JSON");
    if (!header.is_object()) fail("header is not a JSON object");
    if (!duplicate_name.empty()) fail_tensor(duplicate_name, "duplicate tensor name in header");

    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) fail("__metadata__ is not a JSON object");
        for (const auto& [key, value] : entry.items()) {
          if (!value.is_string()) fail("__metadata__ value of '" + key + "' is not a string");
          metadata_[key] = value.get<std::string>();
        }
        continue;
      }
      if (!entry.is_object()) fail_tensor(name, "header entry is not a JSON object");
      SafetensorsTensorInfo info;
      info.name = name;

      const auto dtype_it = entry.find("dtype");
      if (dtype_it == entry.end() || !dtype_it->is_string()) fail_tensor(name, "missing or non-string 'dtype'");
      info.dtype = dtype_it->get<std::string>();
      const DtypeEntry* dtype = find_dtype(info.dtype);
      if (dtype == nullptr) {
        if (unsupported_dtype_names().count(info.dtype)) {
          fail_tensor(name, "unsupported dtype '" + info.dtype + "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
        }
        fail_tensor(name, "unknown dtype '" + info.dtype.substr(0, 40) + "'");
      }
      info.scalar_type = dtype->scalar_type;

      const auto shape_it = entry.find("shape");
      if (shape_it == entry.end() || !shape_it->is_array()) fail_tensor(name, "missing or non-list 'shape'");
      // The element count, with overflow checked: a corrupt shape must not wrap around and pass
      // the byte-size check.
      std::uint64_t element_count = 1;
      bool too_large = false;
      for (const nlohmann::json& dimension : *shape_it) {
        if (!dimension.is_number_integer()) {
          fail_tensor(name, "shape entry " + json_excerpt(dimension) + " is not a non-negative integer");
        }
        if (dimension.is_number_unsigned()) {
          const std::uint64_t size = dimension.get<std::uint64_t>();
          if (size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            fail_tensor(name, "shape entry " + json_excerpt(dimension) + " is too large");
          }
          info.shape.push_back(static_cast<std::int64_t>(size));
        } else {
          const std::int64_t size = dimension.get<std::int64_t>();
          if (size < 0) fail_tensor(name, "shape entry " + std::to_string(size) + " is negative");
          info.shape.push_back(size);
        }
        const auto size = static_cast<std::uint64_t>(info.shape.back());
        if (size != 0 && element_count > std::numeric_limits<std::uint64_t>::max() / size) too_large = true;
        element_count *= size;
      }

      const auto offsets_it = entry.find("data_offsets");
      if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
          !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
        fail_tensor(name, "'data_offsets' must be a list of two non-negative integers");
      }
      info.begin = (*offsets_it)[0].get<std::uint64_t>();
      info.end = (*offsets_it)[1].get<std::uint64_t>();
      const std::string offsets_text = "[" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "]";
      if (info.begin > info.end) fail_tensor(name, "data_offsets " + offsets_text + " begin after they end");
      if (info.end > data_size) {
        fail_tensor(name, "data_offsets " + offsets_text + " run past the end of the file (data buffer holds " +
                              std::to_string(data_size) + " bytes): truncated file?");
      }
      if (too_large || element_count > std::numeric_limits<std::uint64_t>::max() / dtype->element_size) {
        fail_tensor(name, "shape " + shape_string(info.shape) + " is too large");
      }
      const std::uint64_t expected_bytes = element_count * dtype->element_size;
      if (expected_bytes != info.byte_size()) {
        fail_tensor(name, "byte size " + std::to_string(info.byte_size()) + " of data_offsets " + offsets_text +
                              " does not match shape " + shape_string(info.shape) + " x " + info.dtype + " (" +
                              std::to_string(expected_bytes) + " bytes)");
      }
      tensors_.push_back(std::move(info));
    }

    std::sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensorInfo& a, const SafetensorsTensorInfo& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    // Empty tensors hold no bytes and cannot overlap anything; among the others, each must
    // start at or after the furthest end seen so far.
    const SafetensorsTensorInfo* furthest = nullptr;
    for (const SafetensorsTensorInfo& info : tensors_) {
      if (info.byte_size() == 0) continue;
      if (furthest != nullptr && info.begin < furthest->end) {
        fail_tensor(info.name, "data overlaps tensor '" + furthest->name + "'");
      }
      if (furthest == nullptr || info.end > furthest->end) furthest = &info;
    }
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    unmap();
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() { unmap(); }

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      mapping_(other.mapping_),
      file_size_(other.file_size_),
      data_start_(other.data_start_),
      tensors_(std::move(other.tensors_)),
      index_(std::move(other.index_)),
      metadata_(std::move(other.metadata_)) {
  other.mapping_ = nullptr;
  other.file_size_ = 0;
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    mapping_ = other.mapping_;
    file_size_ = other.file_size_;
    data_start_ = other.data_start_;
    tensors_ = std::move(other.tensors_);
    index_ = std::move(other.index_);
    metadata_ = std::move(other.metadata_);
    other.mapping_ = nullptr;
    other.file_size_ = 0;
  }
  return *this;
}

void SafetensorsFile::unmap() noexcept {
  if (mapping_ != nullptr) {
    ::munmap(const_cast<unsigned char*>(mapping_), file_size_);
    mapping_ = nullptr;
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> result;
  result.reserve(tensors_.size());
  for (const SafetensorsTensorInfo& info : tensors_) result.push_back(info.name);
  return result;
}

const SafetensorsTensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) throw InputError(path_.string() + ": no tensor named '" + name + "'");
  return tensors_[it->second];
}

torch::Tensor SafetensorsFile::view_of_mapping(const SafetensorsTensorInfo& info) const {
  require_little_endian_host();
  // from_blob wants a mutable pointer; the tensor is only ever a copy source.
  auto* data = const_cast<unsigned char*>(mapping_ + data_start_ + info.begin);
  return torch::from_blob(data, info.shape, torch::TensorOptions().dtype(info.scalar_type));
}

torch::Tensor SafetensorsFile::read(const std::string& name) const {
  const SafetensorsTensorInfo& entry = info(name);
  require_little_endian_host();
  torch::Tensor result = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.scalar_type));
  if (entry.byte_size() > 0) {
    std::memcpy(result.data_ptr(), mapping_ + data_start_ + entry.begin, entry.byte_size());
  }
  return result;
}

void SafetensorsFile::copy_into(const std::string& name, const torch::Tensor& destination) const {
  const SafetensorsTensorInfo& entry = info(name);
  if (!destination.defined()) throw std::invalid_argument("copy_into: destination tensor is undefined");
  if (destination.sizes().vec() != entry.shape) {
    throw InputError(path_.string() + ": shape " + shape_string(entry.shape) + " does not match the destination's " +
                     shape_string(destination.sizes()) + " (tensor " + name + ")");
  }
  torch::NoGradGuard no_grad;
  const auto address = reinterpret_cast<std::uintptr_t>(mapping_ + data_start_ + entry.begin);
  const auto element_size = static_cast<std::uintptr_t>(c10::elementSize(entry.scalar_type));
  if (address % element_size == 0) {
    destination.copy_(view_of_mapping(entry));
  } else {
    // Offsets need not be aligned to the element size; typed kernels must not see such data.
    destination.copy_(read(name));
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

std::string safetensors_dtype_name(torch::ScalarType scalar_type) {
  for (const DtypeEntry& entry : kSupportedDtypes) {
    if (entry.scalar_type == scalar_type) return entry.name;
  }
  throw InputError(std::string("dtype ") + c10::toString(scalar_type) + " cannot be stored in safetensors");
}

namespace {

// A file written under a temporary name and renamed over its final path on commit(); the
// temporary file is removed if commit() is never reached.
class AtomicFile {
 public:
  explicit AtomicFile(const fs::path& path) : path_(path) {
    const fs::path parent = path.parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    std::random_device entropy;
    temp_ = path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(entropy());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(temp_.string() + ": cannot create: " + errno_text());
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(temp_.string() + ": write failed: " + errno_text());
      }
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) throw std::runtime_error(temp_.string() + ": cannot flush: " + errno_text());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw std::runtime_error(temp_.string() + ": cannot close: " + errno_text());
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      throw std::runtime_error(path_.string() + ": cannot rename temporary file into place: " + errno_text());
    }
    committed_ = true;
    const fs::path parent = path_.parent_path();
    const int dir_fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {  // best effort: some filesystems refuse directory fds
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  fs::path path_;
  fs::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void save_safetensors(const fs::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  require_little_endian_host();
  const std::string file = path.string();
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") throw InputError(file + ": invalid tensor name '" + name + "'");
    if (!names.insert(name).second) throw InputError(file + ": duplicate tensor name (tensor " + name + ")");
    if (!tensor.defined()) throw InputError(file + ": undefined tensor (tensor " + name + ")");
    const std::uint64_t byte_size = static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(tensor.scalar_type())},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + byte_size}}};
    offset += byte_size;
  }
  std::string header_text = header.dump();
  // Padding keeps the data buffer 8-byte aligned, so readers can view it in place.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  AtomicFile out(path);
  unsigned char length_bytes[8];
  std::uint64_t header_length = header_text.size();
  for (unsigned char& byte : length_bytes) {
    byte = static_cast<unsigned char>(header_length & 0xff);
    header_length >>= 8;
  }
  out.write(length_bytes, sizeof length_bytes);
  out.write(header_text.data(), header_text.size());
  for (const auto& entry : tensors) {
    // One CPU copy at a time keeps peak memory at one tensor, not one model.
    const torch::Tensor cpu = entry.second.detach().to(torch::kCPU).contiguous();
    const std::size_t byte_size = static_cast<std::size_t>(cpu.numel()) * cpu.element_size();
    if (byte_size > 0) out.write(cpu.data_ptr(), byte_size);
  }
  out.commit();
}

}  // namespace selm
