// The worker's training and evaluation steps for throughput_bench, through the
// trainer's own TrainingCore (see throughput_step.h).
#include "bench/training/throughput_step.h"

#include <torch/cuda.h>

#include <stdexcept>
#include <string>

#include "common/campaign_spec.h"
#include "worker/train/recipe.h"

namespace moe4::worker::bench {

moe4::v1::JobAssignment ThroughputJob(const std::vector<std::string>& families, double width, int64_t batch_size,
                                      int epochs, Catalogue catalogue, int image_size, moe4::v1::Precision precision) {
  moe4::v1::JobAssignment job;
  job.set_job_id(1);
  job.set_attempt(1);
  for (const auto& f : families) job.add_families(f);
  // moe4::DefaultRecipe (common/campaign_spec.h), or moe4::worker's on older trees.
  *job.mutable_recipe() = DefaultRecipe();
  job.mutable_recipe()->set_width(width);
  job.mutable_recipe()->set_batch_size(batch_size);
  job.mutable_recipe()->set_epochs(epochs);
  // Explicit: DefaultRecipe() now names the spec's default catalogue (lemur).
  job.mutable_recipe()->set_catalogue(ToProto(catalogue));
  job.mutable_recipe()->set_precision(precision);
  job.mutable_dataset()->set_name("cifar10");
  if (image_size != 32) job.mutable_dataset()->set_resize(image_size);
  return job;
}

DataShape ThroughputShape(int channels, int image_size, int classes, int64_t train_images) {
  DataShape shape;
  shape.channels = channels;
  shape.image_size = image_size;
  shape.classes = classes;
  shape.train_images = train_images;
  return shape;
}

StepRunner::StepRunner(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, const DataShape& shape,
                       WeightLayout layout, torch::Device device)
    : device_(device), core_(registry, job, shape, device, layout), schedule_(job.recipe()) {}

double StepRunner::TrainStep(const Batch& batch, double progress) {
  core_.SetLearningRate(schedule_.At(progress));
  const TrainingCore::StepResult r = core_.Step(batch);
  if (!r.finite) throw std::runtime_error("non-finite training loss " + std::to_string(r.loss_value));
  return r.loss_value;
}

void StepRunner::CheckFinite() const {
  if (const int64_t step = core_.FirstNonFiniteStep(); step >= 0) {
    throw std::runtime_error("non-finite training loss at step " + std::to_string(step));
  }
}

void StepRunner::Synchronize() const {
  if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
}

void StepRunner::EvalStep(const Batch& batch, EvalAccumulator* accumulator) {
  accumulator->Add(core_.Evaluate(batch.images), batch.labels);
}

}  // namespace moe4::worker::bench
