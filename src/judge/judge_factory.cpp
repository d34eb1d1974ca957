#include "selm/judge/judge_factory.hpp"

#include "selm/judge/command_judge.hpp"
#include "selm/judge/http_judge.hpp"
#include "selm/judge/judgment_cache.hpp"
#include "selm/judge/lexicon_judge.hpp"
#include "selm/judge/reward_model_judge.hpp"
#include "selm/util/error.hpp"

namespace selm {

std::unique_ptr<Judge> make_judge(const JudgeConfig& config, const JudgeBuildOptions& options) {
  std::unique_ptr<Judge> judge;
  switch (config.type) {
    case JudgeType::lexicon:
      judge = std::make_unique<LexiconJudge>(config.lexicon);
      break;
    case JudgeType::http:
      judge = std::make_unique<HttpJudge>(config.http);
      break;
    case JudgeType::command:
      judge = std::make_unique<CommandJudge>(config.command);
      break;
    case JudgeType::reward_model:
      if (config.reward_model.path.empty()) {
        throw InputError("key 'judge.reward_model.path': the reward_model judge needs a model directory");
      }
      judge = std::make_unique<RewardModelJudge>(config.reward_model);
      break;
  }
  // A value cast from outside the enumerators (the config system parses only known names).
  if (!judge) {
    throw InputError("key 'judge.type': unknown judge type (known: " + enum_names_text<JudgeType>(", ") + ")");
  }
  if (options.use_cache && !config.cache_dir.empty()) {
    judge = std::make_unique<CachedJudge>(std::move(judge), config.cache_dir);
  }
  return judge;
}

}  // namespace selm
