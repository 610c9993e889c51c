#include "worker/train/trainer_run.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>
#include <map>

#include "worker/data/image_set.h"  // SkippedCounts
#include "worker/moe/ensemble.h"
#include "worker/train/metrics.h"

namespace moe4::worker {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void Summarise(TrainOutcome* o) {
  o->train_seconds = 0;
  o->best_test_accuracy = 0;
  const moe4::v1::EpochMetrics* selected = o->history.empty() ? nullptr : &o->history.back();
  const moe4::v1::EpochMetrics* best_validation = nullptr;
  for (const auto& m : o->history) {
    o->train_seconds += m.epoch_seconds();
    o->best_test_accuracy = std::max(o->best_test_accuracy, m.test_accuracy());
    // The coordinator's rule (it selects again from the stored epochs):
    // highest validation accuracy, earliest on ties; the test set never selects.
    if (m.has_validation_accuracy() && std::isfinite(m.validation_accuracy()) &&
        (best_validation == nullptr || m.validation_accuracy() > best_validation->validation_accuracy())) {
      best_validation = &m;
    }
  }
  if (best_validation != nullptr) selected = best_validation;
  o->final_test_accuracy = o->history.empty() ? 0 : o->history.back().test_accuracy();
  o->selected_epoch = selected ? selected->epoch() : 0;
  o->validation_accuracy = selected && selected->has_validation_accuracy() ? selected->validation_accuracy() : NAN;
  o->selected_test_accuracy = selected ? selected->test_accuracy() : 0;
}

// EpochMetrics.skipped_images of `skipped`: SkippedCounts, counts clamped to
// int32. With more than kMaxSkippedImageKeys keys, the first
// kMaxSkippedImageKeys - 1 (in key order) are kept and the rest summed
// under "(other classes)", so a report stays bounded.
google::protobuf::Map<std::string, int32_t> SkippedImagesMetric(const std::vector<BadImage>& skipped) {
  const std::map<std::string, int64_t> counts = SkippedCounts(skipped);
  google::protobuf::Map<std::string, int32_t> out;
  int64_t other = 0;
  for (const auto& [key, n] : counts) {
    if (counts.size() <= kMaxSkippedImageKeys || out.size() + 1 < kMaxSkippedImageKeys) {
      out[key] = static_cast<int32_t>(std::min<int64_t>(n, INT32_MAX));
    } else {
      other += n;
    }
  }
  if (other > 0) out["(other classes)"] = static_cast<int32_t>(std::min<int64_t>(other, INT32_MAX));
  return out;
}

int LastEpoch(const moe4::v1::JobAssignment& job) {
  return job.stop_after_epoch() > 0 ? std::min(job.stop_after_epoch(), job.recipe().epochs()) : job.recipe().epochs();
}

}  // namespace

TrainerRun::TrainerRun(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, const DatasetPair& data,
                       const TrainerOptions& options, const TrainerHooks& hooks)
    : registry_(registry), job_(job), data_(data), options_(options), hooks_(hooks), last_epoch_(LastEpoch(job)) {}

TrainOutcome TrainerRun::RunAll() {
  if (auto end = BuildModel()) return *end;
  if (auto end = RestoreCheckpoint()) return *end;
  ReplayStoredEpochs();
  PlaceData();
  for (int epoch = first_epoch(); epoch <= last_epoch_; ++epoch) {
    if (auto end = RunEpoch(epoch)) return *end;
  }
  return Completed();
}

TrainOutcome TrainerRun::OutOfMemory(const std::string& what) const {
  // What the job needs is at least its static memory and, when it had a
  // budget, more than the budget it ran out of.
  const int64_t budget = options_.memory_budget_mb;
  const int64_t needed = std::max(static_memory_mb_, budget > 0 ? budget + 1 : 0);
  std::string reason = "out of memory";
  if (needed > 0) reason += ": needed more than " + std::to_string(needed - 1) + " MiB";
  if (budget > 0) reason += " (" + std::to_string(budget) + " MiB were free for it)";
  reason += ": " + what;
  TrainOutcome o = FailedOutcome(std::move(reason), /*retryable=*/true);  // elsewhere, where more is free
  o.out_of_memory = true;
  o.memory_needed_mb = needed;
  return o;
}

// Owns: the thread count, the job's stream, the mixture, its optimiser and
// schedule, and the check that its static memory fits the budget.
std::optional<TrainOutcome> TrainerRun::BuildModel() {
  // Per-thread OpenMP setting: also restores the global count that batch
  // producer threads lower to 1.
  torch::set_num_threads(std::max(1, options_.threads));
  // Every kernel and copy of this job, the model's construction included,
  // goes to a stream of its own (a no-op on the CPU), so that jobs sharing a
  // GPU overlap instead of queueing on the default stream.
  job_stream_.emplace(options_.device);
  job_stream_->MakeCurrent();
  const Dataset& train = data_.train;
  DataShape shape;
  shape.channels = train.channels();
  shape.image_size = job_.dataset().resize() > 0 ? job_.dataset().resize() : train.height();
  shape.classes = train.num_classes;
  shape.train_images = train.size();
  core_ = std::make_unique<TrainingCore>(registry_, job_, shape, options_.device, options_.weight_layout);
  schedule_.emplace(job_.recipe());
  parameter_count_ = CountParameters(*core_->model());
  static_memory_mb_ = StaticTrainingMemoryMb(parameter_count_);
  if (hooks_.on_model_built) hooks_.on_model_built(static_memory_mb_);
  if (options_.memory_budget_mb > 0 && static_memory_mb_ > options_.memory_budget_mb) {
    TrainOutcome o = OutOfMemory("its weights, gradients and AdamW state alone take " +
                                 std::to_string(static_memory_mb_) + " MiB (estimated before the first step)");
    o.parameter_count = parameter_count_;
    return o;
  }
  return std::nullopt;
}

// Owns: whether the checkpoint on disk is this job's, and loading it.
std::optional<TrainOutcome> TrainerRun::RestoreCheckpoint() {
  state_.identity = CheckpointIdentity(job_);
  const std::string& ckpt = options_.checkpoint_path;
  if (ckpt.empty() || !std::filesystem::exists(ckpt)) return std::nullopt;
  auto peek = PeekCheckpoint(ckpt);
  if (!peek.ok()) {
    spdlog::warn("ignoring checkpoint: {}", std::string(peek.status().message()));
    return std::nullopt;
  }
  if (peek->identity != state_.identity) {
    spdlog::warn("ignoring checkpoint {}: written for a different job or recipe", ckpt);
    return std::nullopt;
  }
  auto loaded = LoadCheckpoint(ckpt, *core_->model(), core_->optimizer(), options_.device);
  if (!loaded.ok()) {
    // A half-applied load leaves mixed weights in the model: drop the file
    // and let the retry start fresh.
    std::error_code ignored;
    std::filesystem::remove(ckpt, ignored);
    return FailedOutcome(
        "checkpoint restore failed (file removed, a retry starts fresh): " + std::string(loaded.status().message()),
        true);
  }
  state_ = std::move(*loaded);
  spdlog::info("resuming from checkpoint {} at epoch {}", ckpt, state_.epoch);
  return std::nullopt;
}

// Owns: re-sending what the checkpoint holds beyond the coordinator's
// resume_from_epoch (byte-identical values: it never got them).
void TrainerRun::ReplayStoredEpochs() {
  for (const auto& m : state_.history) {
    if (m.epoch() > job_.resume_from_epoch() && m.epoch() <= last_epoch_) Report(m);
  }
}

// Owns: the augmentation and where the datasets live. On a GPU, datasets
// that fit are uploaded once and every batch is made there (batch_stream.h);
// at most a quarter of the job's memory budget.
void TrainerRun::PlaceData() {
  augment_ = DefaultAugment(job_.dataset().name(), data_.train, job_.dataset().resize());
  int64_t resident_limit = kMaxDeviceResidentBytes;
  if (options_.memory_budget_mb > 0) resident_limit = std::min(resident_limit, (options_.memory_budget_mb << 20) / 4);
  train_resident_ = DeviceResidentCopy(data_.train, options_.device, resident_limit);
  test_resident_ = DeviceResidentCopy(data_.test, options_.device, resident_limit);
  validation_resident_ = DeviceResidentCopy(data_.validation, options_.device, resident_limit);
  if (train_resident_) spdlog::info("dataset held on {} for the job", options_.device.str());
}

// One epoch, after PlaceData: train, evaluate, then FinishEpoch.
std::optional<TrainOutcome> TrainerRun::RunEpoch(int epoch) {
  const auto epoch_start = Clock::now();
  moe4::v1::EpochMetrics m;
  m.set_epoch(epoch);
  int64_t images = 0;
  if (auto end = TrainEpoch(epoch, &m, &images)) return end;
  const double train_seconds = SecondsSince(epoch_start);
  if (auto end = EvaluateEpoch(&m)) return end;
  const auto& recipe = job_.recipe();
  m.set_temperature(core_->model()->gate()->temperature().item<double>());
  // E of the recipe as configured (the seed claim is about the setting);
  // the learned temperature is stored beside it.
  m.set_ecology(Ecology(recipe.gate_temperature(), recipe.entropy_weight(), recipe.oracle_weight(),
                        recipe.load_balance_weight()));
  m.set_epoch_seconds(SecondsSince(epoch_start));
  m.set_images_per_second(train_seconds > 0 ? images / train_seconds : 0);
  m.set_peak_memory_bytes(PeakMemoryBytes(options_.device));
  return FinishEpoch(std::move(m));
}

BatchStreamOptions TrainerRun::StreamOptions(int64_t batch_size) const {
  BatchStreamOptions options;
  options.batch_size = batch_size;
  options.device = options_.device;
  if (job_stream_->active()) options.on_thread_start = [this] { job_stream_->MakeCurrent(); };
  return options;
}

// Owns: the epoch's seeds, its optimiser steps and the schedule within it,
// and the non-finite loss check.
std::optional<TrainOutcome> TrainerRun::TrainEpoch(int epoch, moe4::v1::EpochMetrics* m, int64_t* images) {
  const auto& recipe = job_.recipe();
  torch::manual_seed(MixSeed(recipe.seed(), epoch, 1));
  BatchStreamOptions stream_options = StreamOptions(recipe.batch_size());
  stream_options.train = true;
  stream_options.mixup_alpha = recipe.mixup_alpha();
  stream_options.seed = MixSeed(recipe.seed(), epoch, 2);
  BatchStream stream(train_resident_ ? *train_resident_ : data_.train, *augment_, stream_options);
  const int64_t steps = std::max<int64_t>(1, stream.num_batches());
  TrainAccumulator train_acc(options_.device);
  double lr = schedule_->At(epoch - 1);
  Batch batch;
  for (int64_t step = 0; stream.Next(&batch); ++step) {
    if (auto stopped = StopRequested()) return stopped;
    lr = schedule_->At((epoch - 1) + static_cast<double>(step) / steps);
    core_->SetLearningRate(lr);
    const TrainingCore::StepResult result = core_->Step(batch);
    if (!result.finite) {
      return FailedOutcome("non-finite training loss (" + std::to_string(result.loss_value) + ") at epoch " +
                               std::to_string(epoch) + " step " + std::to_string(step),
                           false);
    }
    train_acc.Add(result.out.logits, result.loss.total, batch.labels, batch.labels_b, batch.lam);
    ++state_.global_step;
    if (hooks_.on_step) hooks_.on_step(epoch, step + 1);
  }
  // On a GPU the steps did not read their losses back: one read per epoch
  // says whether any was not finite (the weights are then garbage anyway).
  if (const int64_t bad = core_->checks_every_step() ? -1 : core_->FirstNonFiniteStep(); bad >= 0) {
    return FailedOutcome("non-finite training loss at epoch " + std::to_string(epoch) + " (step " +
                             std::to_string(bad + 1) + " of the job's run on this worker)",
                         false);
  }
  m->set_train_loss(train_acc.loss());
  m->set_train_accuracy(train_acc.accuracy());
  m->set_lr(lr);  // the last step's
  *images = train_acc.count();
  return std::nullopt;
}

std::optional<TrainOutcome> TrainerRun::EvaluateEpoch(moe4::v1::EpochMetrics* m) {
  if (auto stopped = Evaluate(test_resident_ ? *test_resident_ : data_.test, m)) return stopped;
  if (data_.validation.size() == 0) return std::nullopt;
  // The validation images only ever choose the epoch: their loss and
  // accuracy go beside the test figures, nothing else of them is kept.
  moe4::v1::EpochMetrics validation;
  const auto stopped = Evaluate(validation_resident_ ? *validation_resident_ : data_.validation, &validation);
  m->set_validation_loss(validation.test_loss());
  m->set_validation_accuracy(validation.test_accuracy());
  return stopped;
}

std::optional<TrainOutcome> TrainerRun::Evaluate(const Dataset& set, moe4::v1::EpochMetrics* into) {
  torch::NoGradGuard no_grad;  // TrainingCore::Evaluate switches to eval mode
  BatchStream stream(set, *augment_, StreamOptions(std::max<int64_t>(job_.recipe().batch_size(), 256)));
  EvalAccumulator eval(core_->model()->num_experts(), options_.device);
  Batch batch;
  while (stream.Next(&batch)) {
    if (auto stopped = StopRequested()) return stopped;
    eval.Add(core_->Evaluate(batch.images), batch.labels);
  }
  eval.Fill(into);
  return std::nullopt;
}

// Owns: the epoch's place in the history, its checkpoint, and reporting it
// only once the checkpoint is on disk.
std::optional<TrainOutcome> TrainerRun::FinishEpoch(moe4::v1::EpochMetrics m) {
  state_.epoch = m.epoch();
  state_.history.push_back(m);
  if (!options_.checkpoint_path.empty()) {
    auto saved = SaveCheckpoint(options_.checkpoint_path, *core_->model(), core_->optimizer(), state_);
    if (!saved.ok()) {
      // Without checkpoints a crash silently loses every epoch so far: stop
      // with a reason the operator can act on (disk full, bad
      // --checkpoint-dir). Retryable: another worker may have room.
      TrainOutcome failed = FailedOutcome("checkpoint not written: " + std::string(saved.message()), true);
      failed.checkpoint_failed = true;
      return failed;
    }
  }
  if (m.epoch() > job_.resume_from_epoch()) Report(m);
  return std::nullopt;
}

std::optional<TrainOutcome> TrainerRun::StopRequested() const {
  if (!hooks_.stop_reason) return std::nullopt;
  auto reason = hooks_.stop_reason();
  if (!reason) return std::nullopt;
  TrainOutcome o;
  o.kind = TrainOutcome::Kind::kStopped;
  o.reason = std::move(*reason);
  o.parameter_count = parameter_count_;
  o.history = state_.history;
  Summarise(&o);
  return o;
}

TrainOutcome TrainerRun::Completed() const {
  TrainOutcome o;
  o.kind = TrainOutcome::Kind::kCompleted;
  o.parameter_count = parameter_count_;
  o.history = state_.history;
  Summarise(&o);
  return o;
}

// Every report carries the files this load skipped, also the epochs
// replayed from the checkpoint (the coordinator keeps them on the job); a
// copy per report, so the checkpoint's history holds none.
void TrainerRun::Report(const moe4::v1::EpochMetrics& m) {
  if (!hooks_.on_epoch) return;
  if (!skipped_images_) skipped_images_ = SkippedImagesMetric(data_.skipped);
  if (skipped_images_->empty()) {
    hooks_.on_epoch(m);
    return;
  }
  moe4::v1::EpochMetrics with_skipped = m;
  *with_skipped.mutable_skipped_images() = *skipped_images_;
  hooks_.on_epoch(with_skipped);
}

}  // namespace moe4::worker
