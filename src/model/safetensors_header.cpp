#include "selm/model/safetensors_header.hpp"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "selm/util/error.hpp"
#include "selm/util/json_depth.hpp"

namespace selm {

namespace {

struct DtypeSize {
  const char* name;
  std::uint64_t element_size;
};

// Every dtype of the safetensors format.
constexpr DtypeSize kFormatDtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2},     {"BF16", 2},    {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8},
};


// A short rendering of a JSON value for messages. Headers are nesting-checked before parsing,
// so the dump's recursion stays shallow.
std::string json_excerpt(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

}  // namespace

std::string safetensors_shape_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::uint64_t safetensors_element_size(const std::string& dtype) {
  for (const DtypeSize& entry : kFormatDtypes) {
    if (dtype == entry.name) return entry.element_size;
  }
  return 0;
}

std::uint64_t safetensors_header_length(std::string_view first_bytes, std::uint64_t file_size, const std::string& path) {
  auto fail = [&](const std::string& problem) -> void { throw InputError(path + ": " + problem); };
  if (file_size < 8) {
    fail("truncated file: " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  }
  if (first_bytes.size() < 8) throw std::invalid_argument("safetensors_header_length: fewer than 8 bytes given");
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(first_bytes[i]);
  if (header_length > file_size - 8) {
    fail("header length " + std::to_string(header_length) + " runs past the end of the file (" +
         std::to_string(file_size) + " bytes): truncated file or corrupt header length");
  }
  if (header_length > kMaxSafetensorsHeaderBytes) {
    fail("header length " + std::to_string(header_length) + " exceeds the limit of " +
         std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  return header_length;
}

SafetensorsHeader parse_safetensors_header(std::string_view file_bytes, std::uint64_t file_size,
                                           const std::string& path) {
  auto fail = [&](const std::string& problem) -> void { throw InputError(path + ": " + problem); };
  auto fail_tensor = [&](const std::string& name, const std::string& problem) -> void {
    throw InputError(path + ": " + problem + " (tensor " + name + ")");
  };

  const std::uint64_t header_length = safetensors_header_length(file_bytes, file_size, path);
  if (file_bytes.size() < 8 + header_length) {
    throw std::invalid_argument("parse_safetensors_header: the bytes given end inside the header");
  }
  SafetensorsHeader result;
  result.data_start = 8 + header_length;
  const std::uint64_t data_size = file_size - result.data_start;
  const std::string_view header_text = file_bytes.substr(8, header_length);
  require_json_depth_within(header_text, path);

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
  const nlohmann::json header =
      nlohmann::json::parse(header_text.begin(), header_text.end(), on_parse_event, /*allow_exceptions=*/false);
  if (header.is_discarded()) fail("header is not valid JSON");
  if (!header.is_object()) fail("header is not a JSON object");
  if (!duplicate_name.empty()) fail_tensor(duplicate_name, "duplicate tensor name in header");

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("__metadata__ is not a JSON object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail("__metadata__ value of '" + key + "' is not a string");
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) fail_tensor(name, "header entry is not a JSON object");
    SafetensorsHeaderEntry info;
    info.name = name;

    const auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end() || !dtype_it->is_string()) fail_tensor(name, "missing or non-string 'dtype'");
    info.dtype = dtype_it->get<std::string>();
    info.element_size = safetensors_element_size(info.dtype);
    if (info.element_size == 0) fail_tensor(name, "unknown dtype '" + info.dtype.substr(0, 40) + "'");

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
    if (too_large || element_count > std::numeric_limits<std::uint64_t>::max() / info.element_size) {
      fail_tensor(name, "shape " + safetensors_shape_text(info.shape) + " is too large");
    }
    const std::uint64_t expected_bytes = element_count * info.element_size;
    if (expected_bytes != info.byte_size()) {
      fail_tensor(name, "byte size " + std::to_string(info.byte_size()) + " of data_offsets " + offsets_text +
                            " does not match shape " + safetensors_shape_text(info.shape) + " x " + info.dtype + " (" +
                            std::to_string(expected_bytes) + " bytes)");
    }
    result.tensors.push_back(std::move(info));
  }

  std::sort(result.tensors.begin(), result.tensors.end(),
            [](const SafetensorsHeaderEntry& a, const SafetensorsHeaderEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  // Empty tensors hold no bytes and cannot overlap anything; among the others, each must
  // start at or after the furthest end seen so far.
  const SafetensorsHeaderEntry* furthest = nullptr;
  for (const SafetensorsHeaderEntry& info : result.tensors) {
    if (info.byte_size() == 0) continue;
    if (furthest != nullptr && info.begin < furthest->end) {
      fail_tensor(info.name, "data overlaps tensor '" + furthest->name + "'");
    }
    if (furthest == nullptr || info.end > furthest->end) furthest = &info;
  }
  return result;
}

SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& path) {
  const std::string where = path + ": ";
  require_json_depth_within(text, path);
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw InputError(where + "invalid JSON at byte " + std::to_string(error.byte));
  } catch (const nlohmann::json::out_of_range&) {
    // nlohmann::json refuses numbers beyond double's range (1e309) with out_of_range, not
    // parse_error.
    throw InputError(where + "invalid JSON: a number is out of range");
  }
  const auto weight_map = index.is_object() ? index.find("weight_map") : index.end();
  if (!index.is_object() || weight_map == index.end() || !weight_map->is_object()) {
    throw InputError(where + "key 'weight_map': missing or not an object");
  }
  SafetensorsIndex result;
  std::set<std::string> listed_files;
  for (const auto& [tensor_name, shard] : weight_map->items()) {
    if (!shard.is_string()) throw InputError(where + "shard of tensor '" + tensor_name + "' is not a file name");
    const std::string shard_name = shard.get<std::string>();
    // Shards live next to the index; anything else would read outside the model directory.
    // A NUL would cut the name short when the file is opened.
    if (shard_name.empty() || std::filesystem::path(shard_name).is_absolute() ||
        shard_name.find("..") != std::string::npos || shard_name.find('\0') != std::string::npos) {
      throw InputError(where + "invalid shard file name '" + shard_name + "' (tensor " + tensor_name + ")");
    }
    if (listed_files.insert(shard_name).second) result.shard_names.push_back(shard_name);
    result.weight_map.emplace_back(tensor_name, shard_name);
  }
  if (result.weight_map.empty()) throw InputError(where + "key 'weight_map': lists no tensors");
  return result;
}

}  // namespace selm
