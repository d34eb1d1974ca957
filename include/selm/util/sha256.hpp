// SHA-256 of a byte string, as lowercase hex: config hashes, cache keys and content identities.
#pragma once

#include <string>
#include <string_view>

namespace selm {

std::string sha256_hex(std::string_view data);

}  // namespace selm
