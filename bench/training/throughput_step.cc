// The worker's training and evaluation steps for throughput_bench; every line
// of the step follows worker/train/trainer.cc (see throughput_step.h).
#include "bench/training/throughput_step.h"

#include <cmath>
#include <stdexcept>

#include "worker/train/losses.h"
#include "worker/train/recipe.h"

namespace moe4::worker::bench {

moe4::v1::JobAssignment ThroughputJob(const std::vector<std::string>& families, double width, int64_t batch_size,
                                      int epochs) {
  moe4::v1::JobAssignment job;
  job.set_job_id(1);
  job.set_attempt(1);
  for (const auto& f : families) job.add_families(f);
  // moe4::DefaultRecipe (common/campaign_spec.h), or moe4::worker's on older trees.
  *job.mutable_recipe() = DefaultRecipe();
  job.mutable_recipe()->set_width(width);
  job.mutable_recipe()->set_batch_size(batch_size);
  job.mutable_recipe()->set_epochs(epochs);
  job.mutable_dataset()->set_name("cifar10");
  return job;
}

MixtureOfExperts BuildMixture(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, int channels,
                              int image_size, int classes) {
  const auto& recipe = job.recipe();
  ExpertOptions expert_options;
  expert_options.in_channels = channels;
  expert_options.image_size = image_size;
  expert_options.num_classes = classes;
  expert_options.width = recipe.width();
  GateOptions gate_options;
  gate_options.in_channels = channels;
  gate_options.num_experts = job.families_size();
  gate_options.temperature = recipe.gate_temperature();
  gate_options.noise_std = recipe.gate_noise_std();
  gate_options.top_k = recipe.gate_top_k();
  const std::vector<std::string> families(job.families().begin(), job.families().end());
  return MixtureOfExperts(registry, families, expert_options, gate_options);
}

StepRunner::StepRunner(MixtureOfExperts model, const moe4::v1::Recipe& recipe, int64_t train_images)
    : recipe_(recipe), model_(std::move(model)), schedule_(recipe), train_images_(train_images) {
  // Trainer::RunOrThrow's groups: experts at lr; gate at gate_lr_scale * lr
  // with half the decay; the temperature alone without decay.
  const double gate_scale = recipe_.gate_lr_scale();
  auto options_for = [&](double lr, double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(lr).betas({recipe_.beta1(), recipe_.beta2()}).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(model_->expert_parameters(), options_for(recipe_.lr(), recipe_.weight_decay()));
  groups.emplace_back(model_->gate_parameters(), options_for(gate_scale * recipe_.lr(), recipe_.weight_decay() / 2));
  groups.emplace_back(std::vector<torch::Tensor>{model_->gate()->temperature_parameter()},
                      options_for(gate_scale * recipe_.lr(), 0.0));
  optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(recipe_.lr()));
}

double StepRunner::TrainStep(const Batch& batch, double progress) {
  model_->train();
  const double lr = schedule_.At(progress);
  auto& param_groups = optimizer_->param_groups();
  for (size_t g = 0; g < param_groups.size(); ++g) {
    param_groups[g].options().set_lr(g == 0 ? lr : recipe_.gate_lr_scale() * lr);
  }
  optimizer_->zero_grad();
  auto out = model_->forward(batch.images);
  auto loss = ComputeLoss(out, batch.labels, batch.labels_b, batch.lam, recipe_);
  loss.total = loss.total + out.auxiliary_loss / static_cast<double>(std::max<int64_t>(1, train_images_));
  const double loss_value = loss.total.item<double>();
  if (!std::isfinite(loss_value)) throw std::runtime_error("non-finite training loss " + std::to_string(loss_value));
  loss.total.backward();
  if (recipe_.grad_clip_norm() > 0) {
    torch::nn::utils::clip_grad_norm_(model_->parameters(), recipe_.grad_clip_norm());
  }
  optimizer_->step();
  model_->gate()->ClampTemperature();
  return loss_value;
}

void StepRunner::EvalStep(const Batch& batch, EvalAccumulator* accumulator) {
  torch::NoGradGuard no_grad;
  model_->eval();
  accumulator->Add(model_->forward(batch.images), batch.labels);
}

}  // namespace moe4::worker::bench
