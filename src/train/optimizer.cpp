#include "selm/train/optimizer.hpp"

#include <c10/util/string_utils.h>
#include <torch/serialize.h>

#include <string>

#include "selm/util/error.hpp"

namespace selm {

namespace {

// The key under which torch::optim keeps a parameter's state.
std::string state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

// Archive keys may not contain '.', so positions are spelled out.
std::string param_key(std::size_t group, std::size_t index, const std::string& field) {
  return "group" + std::to_string(group) + "_param" + std::to_string(index) + "_" + field;
}

torch::Tensor shape_tensor(const torch::Tensor& tensor) {
  return torch::tensor(tensor.sizes().vec(), torch::kInt64);
}

std::string shape_text(torch::IntArrayRef sizes) {
  std::string text = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

}  // namespace

bool receives_weight_decay(const torch::Tensor& parameter) { return parameter.dim() >= 2; }

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& module, const TrainConfig& config,
                                                const std::function<bool(std::size_t)>& keep) {
  std::vector<torch::Tensor> decay;
  std::vector<torch::Tensor> no_decay;
  std::size_t index = 0;
  for (const auto& named : module.named_parameters(/*recurse=*/true)) {
    const torch::Tensor& parameter = named.value();
    if (!parameter.requires_grad()) continue;
    if (keep && !keep(index++)) continue;
    (receives_weight_decay(parameter) ? decay : no_decay).push_back(parameter);
  }
  auto options = [&](double weight_decay) {
    return torch::optim::AdamWOptions(config.learning_rate)
        .betas(std::make_tuple(config.adam_beta1, config.adam_beta2))
        .eps(config.adam_epsilon)
        .weight_decay(weight_decay);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options(config.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), options(config.weight_decay));
}

void set_learning_rate(torch::optim::AdamW& optimizer, double learning_rate) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learning_rate);
  }
}

double learning_rate_of(const torch::optim::AdamW& optimizer, std::size_t group) {
  return static_cast<const torch::optim::AdamWOptions&>(optimizer.param_groups().at(group).options()).lr();
}

void save_optimizer_state(const torch::optim::AdamW& optimizer, const fs::path& file) {
  torch::serialize::OutputArchive archive;
  const auto& groups = optimizer.param_groups();
  archive.write("group_count", torch::tensor(static_cast<std::int64_t>(groups.size())));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    archive.write("group" + std::to_string(g) + "_param_count", torch::tensor(static_cast<std::int64_t>(params.size())));
    for (std::size_t i = 0; i < params.size(); ++i) {
      archive.write(param_key(g, i, "shape"), shape_tensor(params[i]));
      const auto found = optimizer.state().find(state_key(params[i]));
      std::int64_t step = 0;
      if (found != optimizer.state().end()) {
        const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
        step = state.step();
        archive.write(param_key(g, i, "exp_avg"), state.exp_avg().detach().cpu());
        archive.write(param_key(g, i, "exp_avg_sq"), state.exp_avg_sq().detach().cpu());
        if (state.max_exp_avg_sq().defined()) {
          archive.write(param_key(g, i, "max_exp_avg_sq"), state.max_exp_avg_sq().detach().cpu());
        }
      }
      archive.write(param_key(g, i, "step"), torch::tensor(step));
    }
  }
  try {
    archive.save_to(file.string());
  } catch (const c10::Error& error) {
    throw std::runtime_error(file.string() + ": cannot write optimiser state: " + error.what_without_backtrace());
  }
}

void load_optimizer_state(torch::optim::AdamW& optimizer, const fs::path& file) {
  const std::string where = file.string() + ": ";
  if (!fs::is_regular_file(file)) throw InputError(where + "optimiser state file is missing");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error& error) {
    throw InputError(where + "not a readable optimiser state: " + error.what_without_backtrace());
  }
  auto read_tensor = [&](const std::string& key) {
    torch::Tensor value;
    if (!archive.try_read(key, value)) throw InputError(where + "missing entry '" + key + "'");
    return value;
  };
  auto& groups = optimizer.param_groups();
  const std::int64_t stored_groups = read_tensor("group_count").item<std::int64_t>();
  if (stored_groups != static_cast<std::int64_t>(groups.size())) {
    throw InputError(where + "holds " + std::to_string(stored_groups) + " parameter groups, the optimiser has " +
                     std::to_string(groups.size()));
  }
  // Validate the whole layout before touching the optimiser, so a mismatch leaves it unchanged.
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    const std::int64_t count = read_tensor("group" + std::to_string(g) + "_param_count").item<std::int64_t>();
    if (count != static_cast<std::int64_t>(params.size())) {
      throw InputError(where + "group " + std::to_string(g) + " holds " + std::to_string(count) +
                       " parameters, the optimiser has " + std::to_string(params.size()));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor stored_shape = read_tensor(param_key(g, i, "shape"));
      if (!torch::equal(stored_shape, shape_tensor(params[i]))) {
        const auto* data = stored_shape.data_ptr<std::int64_t>();
        throw InputError(where + "parameter " + std::to_string(i) + " of group " + std::to_string(g) +
                         " has shape " + shape_text({data, static_cast<std::size_t>(stored_shape.numel())}) +
                         " in the file but " + shape_text(params[i].sizes()) + " in the model");
      }
    }
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::string key = state_key(params[i]);
      const std::int64_t step = read_tensor(param_key(g, i, "step")).item<std::int64_t>();
      if (step == 0) {
        optimizer.state().erase(key);
        continue;
      }
      const auto options = torch::TensorOptions().device(params[i].device()).dtype(params[i].scalar_type());
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(step);
      state->exp_avg(read_tensor(param_key(g, i, "exp_avg")).to(options));
      state->exp_avg_sq(read_tensor(param_key(g, i, "exp_avg_sq")).to(options));
      torch::Tensor max_exp_avg_sq;
      if (archive.try_read(param_key(g, i, "max_exp_avg_sq"), max_exp_avg_sq)) {
        state->max_exp_avg_sq(max_exp_avg_sq.to(options));
      }
      optimizer.state()[key] = std::move(state);
    }
  }
}

}  // namespace selm
