// The text of src/sweep/sweep.sbatch.in, compiled into the library at build time (selm_embed_text
// in CMakeLists.txt), so that `selm sweep --slurm` needs no file next to the binary.
#pragma once

#include <string_view>

namespace selm {

// Placeholders are {{name}}; slurm_script.cpp fills them.
std::string_view sweep_sbatch_template();

}  // namespace selm
