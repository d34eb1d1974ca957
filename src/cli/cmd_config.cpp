#include <iostream>

#include "commands.hpp"

namespace selm::cli {

void register_config_command(CLI::App& app) {
  auto* command = app.add_subcommand("config", "Print the resolved config (defaults < files < overrides) as YAML");
  auto args = std::make_shared<ConfigArgs>();
  auto reference = std::make_shared<bool>(false);
  add_config_args(*command, *args, /*config_required=*/false);
  command->add_flag("--reference", *reference, "Print the Markdown reference of every key instead");
  command->callback([args, reference] {
    if (*reference) {
      std::cout << config_reference_markdown();
      return;
    }
    std::cout << dump_config_yaml(resolve_config(*args));
  });
}

}  // namespace selm::cli
