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
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/model/safetensors_header.hpp"
#include "selm/util/error.hpp"

namespace selm {

namespace {

struct DtypeEntry {
  const char* name;
  torch::ScalarType scalar_type;
  std::uint64_t element_size;
};

// Safetensors dtypes that LibTorch 1.13 can hold; the format's others (F8_E4M3, F8_E5M2, U16,
// U32, U64) are refused as unsupported.
constexpr DtypeEntry kSupportedDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},       {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

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
    const std::string_view bytes(reinterpret_cast<const char*>(mapping_), file_size_);
    SafetensorsHeader header = parse_safetensors_header(bytes, file_size_, file);
    data_start_ = header.data_start;
    metadata_ = std::move(header.metadata);
    tensors_.reserve(header.tensors.size());
    for (SafetensorsHeaderEntry& entry : header.tensors) {
      const DtypeEntry* dtype = find_dtype(entry.dtype);
      if (dtype == nullptr) {
        fail_tensor(entry.name, "unsupported dtype '" + entry.dtype +
                                    "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
      }
      SafetensorsTensorInfo info;
      info.name = std::move(entry.name);
      info.dtype = std::move(entry.dtype);
      info.scalar_type = dtype->scalar_type;
      info.shape = std::move(entry.shape);
      info.begin = entry.begin;
      info.end = entry.end;
      tensors_.push_back(std::move(info));
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
    throw InputError(path_.string() + ": shape " + safetensors_shape_text(entry.shape) + " does not match the destination's " +
                     safetensors_shape_text(destination.sizes().vec()) + " (tensor " + name + ")");
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
