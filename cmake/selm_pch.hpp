// Precompiled header shared by every translation unit of selm_core and the tests.
// LibTorch's headers cost ~25 s per translation unit; compiled once here they cost ~2 s.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>
