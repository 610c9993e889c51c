#include "worker/train/trainer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>
#include <map>

#include "worker/data/batch_stream.h"
#include "worker/data/image_set.h"  // SkippedCounts
#include "worker/moe/ensemble.h"
#include "worker/train/checkpoint.h"
#include "worker/train/job_stream.h"
#include "worker/train/metrics.h"
#include "worker/train/schedule.h"
#include "worker/train/training_core.h"

namespace moe4::worker {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

TrainOutcome Failed(std::string reason, bool retryable) {
  TrainOutcome o;
  o.kind = TrainOutcome::Kind::kFailed;
  o.reason = std::move(reason);
  o.retryable = retryable;
  return o;
}

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

}  // namespace

uint64_t MixSeed(uint64_t seed, uint64_t epoch, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (epoch + 1) + 0xbf58476d1ce4e5b9ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Trainer::Trainer(const FamilyRegistry& registry, moe4::v1::JobAssignment job, const DatasetPair& data,
                 TrainerOptions options)
    : registry_(registry), job_(std::move(job)), data_(data), options_(std::move(options)) {}

int64_t StaticTrainingMemoryMb(int64_t parameters) {
  constexpr int64_t kBytesPerParameter = 4 + 4 + 8;  // weight, gradient, AdamW's exp_avg and exp_avg_sq
  return (parameters * kBytesPerParameter + (1 << 20) - 1) >> 20;
}

TrainOutcome Trainer::OutOfMemory(const std::string& what) const {
  // What the job needs is at least its static memory and, when it had a
  // budget, more than the budget it ran out of.
  const int64_t needed = std::max(static_memory_mb_, options_.memory_budget_mb > 0 ? options_.memory_budget_mb + 1 : 0);
  std::string reason = "out of memory";
  if (needed > 0) reason += ": needed more than " + std::to_string(needed - 1) + " MiB";
  if (options_.memory_budget_mb > 0) reason += " (" + std::to_string(options_.memory_budget_mb) + " MiB were free for it)";
  reason += ": " + what;
  TrainOutcome o = Failed(std::move(reason), /*retryable=*/true);  // elsewhere, where more is free
  o.out_of_memory = true;
  o.memory_needed_mb = needed;
  return o;
}

TrainOutcome Trainer::Run(const TrainerHooks& hooks) {
  try {
    return RunOrThrow(hooks);
  } catch (const c10::OutOfMemoryError& e) {
    return OutOfMemory(e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return OutOfMemory("a host allocation failed");
  } catch (const c10::Error& e) {
    // LibTorch's CPU allocator reports a failed allocation as a plain
    // c10::Error ("DefaultCPUAllocator: can't allocate memory" in 1.13), so
    // only its text tells it from other errors.
    const std::string what = e.what_without_backtrace();
    if (what.find("can't allocate memory") != std::string::npos || what.find("not enough memory") != std::string::npos) {
      return OutOfMemory(what);
    }
    return Failed("LibTorch error: " + what, false);
  } catch (const std::invalid_argument& e) {
    return Failed(std::string("invalid job: ") + e.what(), false);
  } catch (const std::exception& e) {
    return Failed(std::string("training error: ") + e.what(), true);
  }
}

TrainOutcome Trainer::RunOrThrow(const TrainerHooks& hooks) {
  const auto& recipe = job_.recipe();
  const auto& train = data_.train;
  const auto& test = data_.test;
  const torch::Device device = options_.device;
  // Per-thread OpenMP setting: also restores the global count that batch
  // producer threads lower to 1.
  torch::set_num_threads(std::max(1, options_.threads));
  // Every kernel and copy of this job, the model's construction included,
  // goes to a stream of its own (a no-op on the CPU), so that jobs sharing a
  // GPU overlap instead of queueing on the default stream.
  const JobStream job_stream(device);
  job_stream.MakeCurrent();
  const std::function<void()> use_job_stream = [&job_stream] { job_stream.MakeCurrent(); };

  DataShape shape;
  shape.channels = train.channels();
  shape.image_size = job_.dataset().resize() > 0 ? job_.dataset().resize() : train.height();
  shape.classes = train.num_classes;
  shape.train_images = train.size();
  TrainingCore core(registry_, job_, shape, device, options_.weight_layout);
  MixtureOfExperts& model = core.model();
  torch::optim::AdamW& optimizer = core.optimizer();
  const LrSchedule schedule(recipe);

  TrainOutcome outcome;
  outcome.parameter_count = CountParameters(*model);
  static_memory_mb_ = StaticTrainingMemoryMb(outcome.parameter_count);
  if (hooks.on_model_built) hooks.on_model_built(static_memory_mb_);
  if (options_.memory_budget_mb > 0 && static_memory_mb_ > options_.memory_budget_mb) {
    TrainOutcome o = OutOfMemory("its weights, gradients and AdamW state alone take " +
                                 std::to_string(static_memory_mb_) + " MiB (estimated before the first step)");
    o.parameter_count = outcome.parameter_count;
    return o;
  }
  CheckpointState state;
  state.identity = CheckpointIdentity(job_);
  const std::string& ckpt = options_.checkpoint_path;
  if (!ckpt.empty() && std::filesystem::exists(ckpt)) {
    auto peek = PeekCheckpoint(ckpt);
    if (!peek.ok()) {
      spdlog::warn("ignoring checkpoint: {}", std::string(peek.status().message()));
    } else if (peek->identity != state.identity) {
      spdlog::warn("ignoring checkpoint {}: written for a different job or recipe", ckpt);
    } else {
      auto loaded = LoadCheckpoint(ckpt, *model, optimizer, device);
      if (!loaded.ok()) {
        // A half-applied load leaves mixed weights in the model: drop the file
        // and let the retry start fresh.
        std::error_code ignored;
        std::filesystem::remove(ckpt, ignored);
        return Failed(
            "checkpoint restore failed (file removed, a retry starts fresh): " + std::string(loaded.status().message()),
            true);
      }
      state = std::move(*loaded);
      spdlog::info("resuming from checkpoint {} at epoch {}", ckpt, state.epoch);
    }
  }
  const int reported_through = job_.resume_from_epoch();
  // An asha rung ends before recipe.epochs (JobAssignment.stop_after_epoch);
  // the learning-rate schedule spans recipe.epochs either way, so a promoted
  // job continues exactly as an uninterrupted run would.
  const int epochs = job_.stop_after_epoch() > 0 ? std::min(job_.stop_after_epoch(), recipe.epochs())
                                                 : recipe.epochs();
  // Every report carries the files this load skipped, also the epochs
  // replayed from the checkpoint (the coordinator keeps them on the job); a
  // copy per report, so the checkpoint's history holds none.
  const google::protobuf::Map<std::string, int32_t> skipped_images = SkippedImagesMetric(data_.skipped);
  auto report = [&](const moe4::v1::EpochMetrics& m) {
    if (!hooks.on_epoch) return;
    if (skipped_images.empty()) {
      hooks.on_epoch(m);
      return;
    }
    moe4::v1::EpochMetrics with_skipped = m;
    *with_skipped.mutable_skipped_images() = skipped_images;
    hooks.on_epoch(with_skipped);
  };
  for (const auto& m : state.history) {
    if (m.epoch() > reported_through && m.epoch() <= epochs) report(m);
  }

  const AugmentOptions augment = DefaultAugment(job_.dataset().name(), train, job_.dataset().resize());
  // On a GPU, datasets that fit are uploaded once and every batch is made
  // there (batch_stream.h); at most a quarter of the job's memory budget.
  int64_t resident_limit = kMaxDeviceResidentBytes;
  if (options_.memory_budget_mb > 0) resident_limit = std::min(resident_limit, (options_.memory_budget_mb << 20) / 4);
  const std::optional<Dataset> train_resident = DeviceResidentCopy(train, device, resident_limit);
  const std::optional<Dataset> test_resident = DeviceResidentCopy(test, device, resident_limit);
  const std::optional<Dataset> validation_resident = DeviceResidentCopy(data_.validation, device, resident_limit);
  const Dataset& train_set = train_resident ? *train_resident : train;
  const Dataset& test_set = test_resident ? *test_resident : test;
  const Dataset& validation_set = validation_resident ? *validation_resident : data_.validation;
  if (train_resident) spdlog::info("dataset held on {} for the job", device.str());
  const int64_t batch_size = recipe.batch_size();
  for (int epoch = state.epoch + 1; epoch <= epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    torch::manual_seed(MixSeed(recipe.seed(), epoch, 1));
    BatchStreamOptions train_stream_options;
    train_stream_options.batch_size = batch_size;
    train_stream_options.train = true;
    train_stream_options.mixup_alpha = recipe.mixup_alpha();
    train_stream_options.seed = MixSeed(recipe.seed(), epoch, 2);
    train_stream_options.device = device;
    if (job_stream.active()) train_stream_options.on_thread_start = use_job_stream;
    BatchStream stream(train_set, augment, train_stream_options);
    const int64_t steps = std::max<int64_t>(1, stream.num_batches());
    TrainAccumulator train_acc(device);
    double lr = schedule.At(epoch - 1);
    Batch batch;
    for (int64_t step = 0; stream.Next(&batch); ++step) {
      if (hooks.stop_reason) {
        if (auto reason = hooks.stop_reason()) {
          outcome.kind = TrainOutcome::Kind::kStopped;
          outcome.reason = *reason;
          outcome.history = state.history;
          Summarise(&outcome);
          return outcome;
        }
      }
      lr = schedule.At((epoch - 1) + static_cast<double>(step) / steps);
      core.SetLearningRate(lr);
      const TrainingCore::StepResult result = core.Step(batch);
      if (!result.finite) {
        return Failed("non-finite training loss (" + std::to_string(result.loss_value) + ") at epoch " +
                          std::to_string(epoch) + " step " + std::to_string(step),
                      false);
      }
      train_acc.Add(result.out.logits, result.loss.total, batch.labels, batch.labels_b, batch.lam);
      ++state.global_step;
      if (hooks.on_step) hooks.on_step(epoch, step + 1);
    }
    // On a GPU the steps did not read their losses back: one read per epoch
    // says whether any was not finite (the weights are then garbage anyway).
    if (!core.checks_every_step()) {
      if (const int64_t bad = core.FirstNonFiniteStep(); bad >= 0) {
        return Failed("non-finite training loss at epoch " + std::to_string(epoch) + " (step " +
                          std::to_string(bad + 1) + " of the job's run on this worker)",
                      false);
      }
    }
    const double train_seconds = SecondsSince(epoch_start);

    moe4::v1::EpochMetrics m;
    m.set_epoch(epoch);
    m.set_train_loss(train_acc.loss());
    m.set_train_accuracy(train_acc.accuracy());
    // Fills `into` with the mixture's statistics on `set`; false when a stop
    // was requested on the way.
    auto evaluate = [&](const Dataset& set, moe4::v1::EpochMetrics* into) {
      torch::NoGradGuard no_grad;  // TrainingCore::Evaluate switches to eval mode
      BatchStreamOptions eval_stream_options;
      eval_stream_options.batch_size = std::max<int64_t>(batch_size, 256);
      eval_stream_options.device = device;
      if (job_stream.active()) eval_stream_options.on_thread_start = use_job_stream;
      BatchStream eval_stream(set, augment, eval_stream_options);
      EvalAccumulator eval(model->num_experts(), device);
      while (eval_stream.Next(&batch)) {
        if (hooks.stop_reason) {
          if (auto reason = hooks.stop_reason()) {
            outcome.kind = TrainOutcome::Kind::kStopped;
            outcome.reason = *reason;
            return false;
          }
        }
        eval.Add(core.Evaluate(batch.images), batch.labels);
      }
      eval.Fill(into);
      return true;
    };
    bool finished = evaluate(test_set, &m);
    if (finished && data_.validation.size() > 0) {
      // The validation images only ever choose the epoch: their loss and
      // accuracy go beside the test figures, nothing else of them is kept.
      moe4::v1::EpochMetrics validation;
      finished = evaluate(validation_set, &validation);
      m.set_validation_loss(validation.test_loss());
      m.set_validation_accuracy(validation.test_accuracy());
    }
    if (!finished) {
      outcome.history = state.history;
      Summarise(&outcome);
      return outcome;
    }
    const double temperature = model->gate()->temperature().item<double>();
    m.set_lr(lr);
    m.set_temperature(temperature);
    // E of the recipe as configured (the seed claim is about the setting);
    // the learned temperature is stored beside it.
    m.set_ecology(
        Ecology(recipe.gate_temperature(), recipe.entropy_weight(), recipe.oracle_weight(), recipe.load_balance_weight()));
    m.set_epoch_seconds(SecondsSince(epoch_start));
    m.set_images_per_second(train_seconds > 0 ? train_acc.count() / train_seconds : 0);
    m.set_peak_memory_bytes(PeakMemoryBytes(device));

    state.epoch = epoch;
    state.history.push_back(m);
    if (!ckpt.empty()) {
      auto saved = SaveCheckpoint(ckpt, *model, optimizer, state);
      if (!saved.ok()) {
        // Without checkpoints a crash silently loses every epoch so far: stop
        // with a reason the operator can act on (disk full, bad
        // --checkpoint-dir). Retryable: another worker may have room.
        TrainOutcome failed = Failed("checkpoint not written: " + std::string(saved.message()), true);
        failed.checkpoint_failed = true;
        return failed;
      }
    }
    if (epoch > reported_through) report(m);
  }
  outcome.kind = TrainOutcome::Kind::kCompleted;
  outcome.history = state.history;
  Summarise(&outcome);
  return outcome;
}

}  // namespace moe4::worker
