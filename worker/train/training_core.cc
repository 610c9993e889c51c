#include "worker/train/training_core.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/campaign_spec.h"
#include "worker/train/trainer.h"

namespace moe4::worker {
namespace {

MixtureOfExperts BuildMixture(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job,
                              const DataShape& shape) {
  const auto& recipe = job.recipe();
  ExpertOptions expert_options;
  expert_options.in_channels = shape.channels;
  expert_options.image_size = shape.image_size;
  expert_options.num_classes = shape.classes;
  expert_options.width = recipe.width();
  expert_options.catalogue = FromProto(recipe.catalogue());
  GateOptions gate_options;
  gate_options.in_channels = shape.channels;
  gate_options.num_experts = job.families_size();
  gate_options.temperature = recipe.gate_temperature();
  gate_options.noise_std = recipe.gate_noise_std();
  gate_options.top_k = recipe.gate_top_k();
  const std::vector<std::string> families(job.families().begin(), job.families().end());
  return MixtureOfExperts(registry, families, expert_options, gate_options);
}

// set_data keeps each Parameter object (and so the optimiser's references and
// the module's registration) and swaps its storage for an NHWC copy.
void MakeWeightsChannelsLast(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

}  // namespace

TrainingCore::TrainingCore(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job,
                           const DataShape& shape, torch::Device device, WeightLayout layout)
    : recipe_(job.recipe()), train_images_(std::max<int64_t>(1, shape.train_images)) {
  torch::manual_seed(MixSeed(recipe_.seed(), 0, 0));
  model_ = BuildMixture(registry, job, shape);
  model_->to(device);
  channels_last_ = layout == WeightLayout::kChannelsLast || (layout == WeightLayout::kAuto && device.is_cpu());
  if (channels_last_) MakeWeightsChannelsLast(*model_);

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

void TrainingCore::SetLearningRate(double lr) {
  auto& groups = optimizer_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    groups[g].options().set_lr(g == 0 ? lr : recipe_.gate_lr_scale() * lr);
  }
}

TrainingCore::StepResult TrainingCore::Step(const Batch& batch) {
  // train() walks every submodule: only on a switch from evaluation, not on
  // every step.
  if (!model_->is_training()) model_->train();
  optimizer_->zero_grad();
  StepResult r;
  r.out = model_->forward(batch.images);
  r.loss = ComputeLoss(r.out, batch.labels, batch.labels_b, batch.lam, recipe_);
  r.loss.total = r.loss.total + r.out.auxiliary_loss / static_cast<double>(train_images_);
  // Auxiliary classifier heads learn the same (mixup, smoothed) targets as
  // the mixture, weighted as their family's training code weights them.
  for (const auto& head : r.out.auxiliary_logits) {
    if (head.weight == 0) continue;  // LEMUR's GoogLeNet builds its heads but never trains them
    r.loss.total = r.loss.total + head.weight * MixupCrossEntropy(head.logits, batch.labels, batch.labels_b, batch.lam,
                                                                  recipe_.label_smoothing())
                                                    .mean();
  }
  r.loss_value = r.loss.total.item<double>();
  r.finite = std::isfinite(r.loss_value);
  if (!r.finite) return r;
  r.loss.total.backward();
  if (recipe_.grad_clip_norm() > 0) {
    torch::nn::utils::clip_grad_norm_(model_->parameters(), recipe_.grad_clip_norm());
  }
  optimizer_->step();
  model_->gate()->ClampTemperature();
  return r;
}

MoEOutput TrainingCore::Evaluate(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  if (model_->is_training()) model_->eval();
  return model_->forward(images);
}

}  // namespace moe4::worker
