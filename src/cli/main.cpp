#include "selm/cli/cli.hpp"

int main(int argc, char** argv) { return selm::cli::run(argc, argv); }
