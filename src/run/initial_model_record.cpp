#include "selm/run/initial_model_record.hpp"

#include <nlohmann/json.hpp>

#include "selm/run/json_fields.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

InitialModelRecord read_initial_model_record(const std::filesystem::path& path) {
  const std::string where = location_prefix(path.string());
  const nlohmann::json value = read_json_file(path);
  if (!value.is_object()) throw InputError(where + "expected a JSON object");
  InitialModelRecord record;
  record.path = optional_string(value, "path", where);
  if (value.contains("source")) record.source = optional_string(value, "source", where);
  record.perplexity = optional_number(value, "perplexity", where);
  record.initial_perplexity = optional_number(value, "initial_perplexity", where);
  if (value.contains("perplexity_file")) record.perplexity_file = optional_string(value, "perplexity_file", where);
  return record;
}

void write_initial_model_record(const SharedArtifacts& artifacts,
                                const std::filesystem::path& path, const InitialModelRecord& record) {
  nlohmann::json value = {{"path", record.path}, {"source", record.source}, {"perplexity", nullptr}};
  if (record.perplexity) value["perplexity"] = *record.perplexity;
  if (record.initial_perplexity) value["initial_perplexity"] = *record.initial_perplexity;
  if (record.perplexity_file) value["perplexity_file"] = *record.perplexity_file;
  artifacts.write_file(path, value.dump(2) + "\n");
}

}  // namespace selm
