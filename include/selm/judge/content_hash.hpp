// SHA-256 of a byte string, as lowercase hex: the judge's config hash and the cache keys.
#pragma once

#include <string>
#include <string_view>

namespace selm {

std::string sha256_hex(std::string_view data);

}  // namespace selm
