#include "commands.hpp"

namespace selm::cli {

void register_init_command(CLI::App& app) { (void)app; }

}  // namespace selm::cli
