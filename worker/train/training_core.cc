#include "worker/train/training_core.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
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

// Autocast leaves matrix products in bf16/fp16: the loss, the metrics and
// everything the caller keeps are computed in fp32.
void CastOutputsToFloat(MoEOutput& out) {
  auto to_float = [](torch::Tensor& t) {
    if (t.defined() && t.is_floating_point() && t.scalar_type() != torch::kFloat) t = t.to(torch::kFloat);
  };
  to_float(out.logits);
  to_float(out.expert_logits);
  to_float(out.gate.weights);
  to_float(out.gate.probs);
  to_float(out.gate.log_probs);
  to_float(out.auxiliary_loss);
  for (auto& head : out.auxiliary_logits) to_float(head.logits);
}

Precision ResolveOrThrow(const moe4::v1::Recipe& recipe, const torch::Device& device) {
  auto precision = ResolvePrecision(recipe.precision(), device);
  if (!precision.ok()) throw std::invalid_argument(std::string(precision.status().message()));
  return *precision;
}

}  // namespace

TrainingCore::TrainingCore(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job,
                           const DataShape& shape, torch::Device device, WeightLayout layout)
    : recipe_(job.recipe()),
      train_images_(std::max<int64_t>(1, shape.train_images)),
      device_(device),
      precision_(ResolveOrThrow(recipe_, device)),
      check_every_step_(!device.is_cuda()) {
  torch::manual_seed(MixSeed(recipe_.seed(), 0, 0));
  model_ = BuildMixture(registry, job, shape);
  model_->to(device);
  const bool reduced = precision_ != Precision::kFp32;
  channels_last_ = layout == WeightLayout::kChannelsLast ||
                   (layout == WeightLayout::kAuto && (device.is_cpu() || (device.is_cuda() && reduced)));
  if (channels_last_) MakeWeightsChannelsLast(*model_);
  // Input shapes are fixed for a job: cuDNN's autotuner picks each
  // convolution's fastest algorithm once, on the first steps.
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  first_nonfinite_step_ = torch::full({}, -1, torch::TensorOptions().dtype(torch::kLong).device(device));
  if (precision_ == Precision::kFp16) scaler_ = std::make_unique<LossScaler>(device);

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
  {
    AutocastScope autocast(device_, precision_);
    r.out = model_->forward(batch.images);
  }
  CastOutputsToFloat(r.out);
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
  const int64_t step = steps_++;
  if (check_every_step_) {
    r.loss_value = r.loss.total.item<double>();
    r.finite = std::isfinite(r.loss_value);
    if (!r.finite) {
      first_nonfinite_step_.fill_(step);
      return r;
    }
  } else {
    torch::NoGradGuard no_grad;
    const torch::Tensor first_bad = torch::logical_and(~torch::isfinite(r.loss.total.detach()), first_nonfinite_step_ < 0);
    first_nonfinite_step_.masked_fill_(first_bad, step);
  }
  const std::vector<torch::Tensor> parameters = model_->parameters();
  if (scaler_) {
    scaler_->Backward(r.loss.total);
    scaler_->Unscale(parameters);  // clipping sees the true gradients
  } else {
    r.loss.total.backward();
  }
  if (recipe_.grad_clip_norm() > 0) ClipGradNormOnDevice(parameters, recipe_.grad_clip_norm());
  if (scaler_ && !scaler_->Update()) {
    r.skipped = true;
    return r;
  }
  optimizer_->step();
  model_->gate()->ClampTemperature();
  return r;
}

int64_t TrainingCore::FirstNonFiniteStep() const { return first_nonfinite_step_.item<int64_t>(); }

MoEOutput TrainingCore::Evaluate(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  if (model_->is_training()) model_->eval();
  MoEOutput out;
  {
    AutocastScope autocast(device_, precision_);
    out = model_->forward(images);
  }
  CastOutputsToFloat(out);
  return out;
}

}  // namespace moe4::worker
