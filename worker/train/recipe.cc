#include "worker/train/recipe.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "common/campaign_spec.h"

namespace moe4::worker {
namespace {

absl::Status Bad(const std::string& field, const std::string& rule, double value) {
  std::string v = std::to_string(value);
  return absl::InvalidArgumentError("recipe." + field + " must be " + rule + ", got " + v);
}

}  // namespace

void FillRecipeDefaults(moe4::v1::Recipe* r) {
  const auto d = DefaultRecipe();
  if (r->epochs() == 0) r->set_epochs(d.epochs());
  if (r->batch_size() == 0) r->set_batch_size(d.batch_size());
  if (r->lr() == 0) r->set_lr(d.lr());
  if (r->gate_lr_scale() == 0) r->set_gate_lr_scale(d.gate_lr_scale());
  if (r->beta1() == 0) r->set_beta1(d.beta1());
  if (r->beta2() == 0) r->set_beta2(d.beta2());
  if (r->warmup_start_factor() == 0) r->set_warmup_start_factor(d.warmup_start_factor());
  if (r->gate_temperature() == 0) r->set_gate_temperature(d.gate_temperature());
  if (r->width() == 0) r->set_width(d.width());
}

absl::Status ValidateRecipe(const moe4::v1::Recipe& r) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (r.epochs() < 1 || r.epochs() > 10000) return Bad("epochs", "in [1, 10000]", r.epochs());
  if (r.batch_size() < 1 || r.batch_size() > 65536) {
    return Bad("batch_size", "in [1, 65536]", r.batch_size());
  }
  if (!finite(r.lr()) || r.lr() <= 0 || r.lr() > 10) return Bad("lr", "in (0, 10]", r.lr());
  if (!finite(r.gate_lr_scale()) || r.gate_lr_scale() <= 0 || r.gate_lr_scale() > 100) {
    return Bad("gate_lr_scale", "in (0, 100]", r.gate_lr_scale());
  }
  if (!finite(r.weight_decay()) || r.weight_decay() < 0 || r.weight_decay() > 1) {
    return Bad("weight_decay", "in [0, 1]", r.weight_decay());
  }
  if (!(r.beta1() >= 0 && r.beta1() < 1)) return Bad("beta1", "in [0, 1)", r.beta1());
  if (!(r.beta2() >= 0 && r.beta2() < 1)) return Bad("beta2", "in [0, 1)", r.beta2());
  if (r.warmup_epochs() < 0 || r.warmup_epochs() > 10000) {
    return Bad("warmup_epochs", "in [0, 10000]", r.warmup_epochs());
  }
  if (!(r.warmup_start_factor() > 0 && r.warmup_start_factor() <= 1)) {
    return Bad("warmup_start_factor", "in (0, 1]", r.warmup_start_factor());
  }
  if (!(r.min_lr() >= 0 && r.min_lr() <= r.lr())) {
    return Bad("min_lr", "in [0, lr]", r.min_lr());
  }
  if (!(r.grad_clip_norm() >= 0 && finite(r.grad_clip_norm()))) {
    return Bad("grad_clip_norm", ">= 0 (0 = off)", r.grad_clip_norm());
  }
  if (!(r.mixup_alpha() >= 0 && r.mixup_alpha() <= 100)) {
    return Bad("mixup_alpha", "in [0, 100] (0 = off)", r.mixup_alpha());
  }
  if (!(r.label_smoothing() >= 0 && r.label_smoothing() < 1)) {
    return Bad("label_smoothing", "in [0, 1)", r.label_smoothing());
  }
  for (const auto& [name, v] : {std::pair<const char*, double>{"load_balance_weight", r.load_balance_weight()},
                                {"entropy_weight", r.entropy_weight()},
                                {"oracle_weight", r.oracle_weight()}}) {
    if (!(v >= 0 && v <= 1000)) return Bad(name, "in [0, 1000]", v);
  }
  if (!(r.gate_temperature() >= 0.5 && r.gate_temperature() <= 5)) {
    return Bad("gate_temperature", "in [0.5, 5]", r.gate_temperature());
  }
  if (!(r.gate_noise_std() >= 0 && r.gate_noise_std() <= 10)) {
    return Bad("gate_noise_std", "in [0, 10]", r.gate_noise_std());
  }
  if (r.gate_top_k() < 0) return Bad("gate_top_k", ">= 0 (0 = dense)", r.gate_top_k());
  if (!(r.width() > 0 && r.width() <= 4)) return Bad("width", "in (0, 4]", r.width());
  return absl::OkStatus();
}

absl::Status ValidateJob(const moe4::v1::JobAssignment& job, const FamilyRegistry& registry) {
  if (job.families_size() < 1 || job.families_size() > 8) {
    return absl::InvalidArgumentError("families: need 1 to 8 experts, got " + std::to_string(job.families_size()));
  }
  const Catalogue catalogue = FromProto(job.recipe().catalogue());
  std::set<std::string> seen;
  for (const auto& f : job.families()) {
    if (!registry.Contains(catalogue, f)) {
      std::string known;
      for (const auto& id : registry.Ids(catalogue)) known += " " + id;
      return absl::InvalidArgumentError("families: unknown family '" + f + "' in the " +
                                        std::string(CatalogueName(catalogue)) +
                                        " catalogue (this worker implements:" + known + ")");
    }
    if (!seen.insert(f).second) {
      return absl::InvalidArgumentError("families: '" + f + "' appears twice");
    }
  }
  if (job.dataset().name().empty()) {
    return absl::InvalidArgumentError("dataset.name: empty");
  }
  if (job.resume_from_epoch() < 0) {
    return absl::InvalidArgumentError("resume_from_epoch must be >= 0");
  }
  if (job.stop_after_epoch() < 0 || job.stop_after_epoch() > job.recipe().epochs()) {
    return absl::InvalidArgumentError("stop_after_epoch " + std::to_string(job.stop_after_epoch()) +
                                      " is outside [0, recipe.epochs " + std::to_string(job.recipe().epochs()) + "]");
  }
  const std::vector<std::string> families(job.families().begin(), job.families().end());
  if (auto problems = InputSizeProblems(catalogue, families, job.dataset()); !problems.empty()) {
    return absl::InvalidArgumentError("dataset: " + problems.front());
  }
  return ValidateRecipe(job.recipe());
}

}  // namespace moe4::worker
