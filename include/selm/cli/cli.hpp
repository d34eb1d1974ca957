// Entry point of the `selm` command line: parse, validate, build, run (STYLE.md 7).
#pragma once

namespace selm::cli {

// Runs the command line and returns the process exit code: 0 success, 2 bad usage, config or
// input (the message names the key, file and line), 1 runtime failure. Never throws.
int run(int argc, char** argv);

}  // namespace selm::cli
