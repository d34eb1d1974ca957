#include "selm/parallel/launch_environment.hpp"

#include <cstdlib>
#include <limits>

#include "selm/util/error.hpp"

namespace selm {

namespace {

std::int64_t parse_integer(const std::string& name, const std::string& text, std::int64_t low, std::int64_t high) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size()) {
    throw InputError("environment variable " + name + "='" + text + "': not an integer");
  }
  if (value < low || value > high) {
    throw InputError("environment variable " + name + "=" + text + ": must be in " + std::to_string(low) + ".." +
                     std::to_string(high));
  }
  return value;
}

std::optional<int> integer_variable(const EnvironmentLookup& lookup, const std::string& name, std::int64_t low,
                                    std::int64_t high = std::numeric_limits<int>::max()) {
  const std::optional<std::string> text = lookup(name);
  if (!text) return std::nullopt;
  return static_cast<int>(parse_integer(name, *text, low, high));
}

// SLURM_TASKS_PER_NODE ("2(x3),1": 2 tasks on each of 3 nodes, then 1) -> tasks on node `node`.
std::optional<int> tasks_on_node(const std::string& spec, int node) {
  int index = 0;
  std::size_t at = 0;
  while (at < spec.size()) {
    std::size_t end = spec.find(',', at);
    if (end == std::string::npos) end = spec.size();
    const std::string entry = spec.substr(at, end - at);
    const std::size_t paren = entry.find("(x");
    const std::string count_text = entry.substr(0, paren);
    int repeat = 1;
    if (paren != std::string::npos) {
      if (entry.back() != ')') return std::nullopt;
      repeat = static_cast<int>(parse_integer("SLURM_TASKS_PER_NODE", entry.substr(paren + 2, entry.size() - paren - 3),
                                              1, std::numeric_limits<int>::max()));
    }
    const int count = static_cast<int>(parse_integer("SLURM_TASKS_PER_NODE", count_text, 1, std::numeric_limits<int>::max()));
    if (node < index + repeat) return count;
    index += repeat;
    at = end + 1;
  }
  return std::nullopt;
}

// Splits at commas that are outside brackets.
std::vector<std::string> split_top_level(const std::string& text, const std::string& whole) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string current;
  for (const char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (depth < 0 || depth > 1) throw InputError("SLURM_JOB_NODELIST='" + whole + "': unbalanced brackets");
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (depth != 0) throw InputError("SLURM_JOB_NODELIST='" + whole + "': unbalanced brackets");
  parts.push_back(current);
  return parts;
}

void expand_host(const std::string& host, const std::string& whole, std::vector<std::string>& out) {
  const std::size_t open = host.find('[');
  if (host.empty()) throw InputError("SLURM_JOB_NODELIST='" + whole + "': empty host name");
  if (open == std::string::npos) {
    out.push_back(host);
    return;
  }
  const std::size_t close = host.find(']', open);
  const std::string prefix = host.substr(0, open);
  const std::string suffix = host.substr(close + 1);
  if (suffix.find('[') != std::string::npos) {
    // "a[1-2]b[3-4]": expand the rest for every value of the first range.
    std::vector<std::string> tails;
    expand_host(suffix, whole, tails);
    std::vector<std::string> heads;
    expand_host(host.substr(0, close + 1), whole, heads);
    for (const auto& head : heads) {
      for (const auto& tail : tails) out.push_back(head + tail);
    }
    return;
  }
  const std::string ranges = host.substr(open + 1, close - open - 1);
  std::size_t at = 0;
  while (at <= ranges.size()) {
    std::size_t end = ranges.find(',', at);
    if (end == std::string::npos) end = ranges.size();
    const std::string range = ranges.substr(at, end - at);
    const std::size_t dash = range.find('-');
    const std::string first = range.substr(0, dash);
    const std::string last = dash == std::string::npos ? first : range.substr(dash + 1);
    const auto is_digits = [](const std::string& s) {
      return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (!is_digits(first) || !is_digits(last)) {
      throw InputError("SLURM_JOB_NODELIST='" + whole + "': '" + range + "' is not a number or a range");
    }
    const std::int64_t low = parse_integer("SLURM_JOB_NODELIST", first, 0, 999999999);
    const std::int64_t high = parse_integer("SLURM_JOB_NODELIST", last, 0, 999999999);
    if (high < low || high - low > 100000) {
      throw InputError("SLURM_JOB_NODELIST='" + whole + "': range '" + range + "' is empty or too large");
    }
    const std::size_t width = first.size();
    for (std::int64_t value = low; value <= high; ++value) {
      std::string digits = std::to_string(value);
      if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
      out.push_back(prefix + digits + suffix);
    }
    at = end + 1;
  }
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist) {
  std::vector<std::string> hosts;
  for (const std::string& part : split_top_level(nodelist, nodelist)) expand_host(part, nodelist, hosts);
  return hosts;
}

int slurm_default_master_port(std::int64_t job_id) { return 20000 + static_cast<int>(job_id % 20000); }

LaunchEnvironment read_launch_environment(const EnvironmentLookup& lookup) {
  LaunchEnvironment env;
  const bool torchrun = lookup("WORLD_SIZE").has_value() || lookup("RANK").has_value();
  const bool slurm = !torchrun && lookup("SLURM_NTASKS").has_value() && lookup("SLURM_PROCID").has_value();
  if (torchrun) {
    env.source = "torchrun environment";
    env.world_size = integer_variable(lookup, "WORLD_SIZE", 1).value_or(1);
    env.rank = integer_variable(lookup, "RANK", 0, env.world_size - 1).value_or(0);
    env.local_world_size = integer_variable(lookup, "LOCAL_WORLD_SIZE", 1, env.world_size).value_or(env.world_size);
    env.local_rank = integer_variable(lookup, "LOCAL_RANK", 0, env.local_world_size - 1).value_or(env.rank % env.local_world_size);
    if (const auto addr = lookup("MASTER_ADDR")) env.master_addr = *addr;
    env.master_port = integer_variable(lookup, "MASTER_PORT", 1, 65535).value_or(env.master_port);
  } else if (slurm) {
    env.source = "SLURM environment";
    env.world_size = *integer_variable(lookup, "SLURM_NTASKS", 1);
    env.rank = *integer_variable(lookup, "SLURM_PROCID", 0, env.world_size - 1);
    if (const auto per_node = integer_variable(lookup, "SLURM_NTASKS_PER_NODE", 1, env.world_size)) {
      env.local_world_size = *per_node;
    } else if (const auto spec = lookup("SLURM_TASKS_PER_NODE")) {
      const int node = integer_variable(lookup, "SLURM_NODEID", 0).value_or(0);
      env.local_world_size = tasks_on_node(*spec, node).value_or(env.world_size);
    } else {
      env.local_world_size = env.world_size;
    }
    env.local_rank = integer_variable(lookup, "SLURM_LOCALID", 0, env.local_world_size - 1).value_or(0);
    if (const auto addr = lookup("MASTER_ADDR")) {
      env.master_addr = *addr;
    } else if (const auto nodelist = lookup("SLURM_JOB_NODELIST")) {
      env.master_addr = expand_slurm_nodelist(*nodelist).front();
    } else if (env.world_size > 1) {
      throw InputError("SLURM environment: neither MASTER_ADDR nor SLURM_JOB_NODELIST is set");
    }
    if (const auto port = integer_variable(lookup, "MASTER_PORT", 1, 65535)) {
      env.master_port = *port;
    } else if (const auto job = lookup("SLURM_JOB_ID")) {
      env.master_port = slurm_default_master_port(parse_integer("SLURM_JOB_ID", *job, 0, std::numeric_limits<std::int64_t>::max()));
    }
  }
  if (env.master_addr.empty()) throw InputError("environment variable MASTER_ADDR: empty");
  return env;
}

}  // namespace selm
