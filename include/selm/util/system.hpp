// Process-level facts that benchmarks and reports print.
#pragma once

#include <cstdint>

namespace selm {

// Peak resident set size of this process so far, in bytes.
std::int64_t peak_rss_bytes();
// Current resident set size, in bytes (0 when unavailable).
std::int64_t current_rss_bytes();

}  // namespace selm
