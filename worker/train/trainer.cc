#include "worker/train/trainer.h"

#include <new>
#include <stdexcept>

#include "worker/train/trainer_run.h"

namespace moe4::worker {

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

// The phases are TrainerRun's; this is where what they throw becomes an outcome.
TrainOutcome FailedOutcome(std::string reason, bool retryable) {
  TrainOutcome o;
  o.kind = TrainOutcome::Kind::kFailed;
  o.reason = std::move(reason);
  o.retryable = retryable;
  return o;
}

TrainOutcome Trainer::Run(const TrainerHooks& hooks) {
  TrainerRun run(registry_, job_, data_, options_, hooks);
  try {
    return run.RunAll();
  } catch (const c10::OutOfMemoryError& e) {
    return run.OutOfMemory(e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return run.OutOfMemory("a host allocation failed");
  } catch (const c10::Error& e) {
    // LibTorch's CPU allocator reports a failed allocation as a plain
    // c10::Error ("DefaultCPUAllocator: can't allocate memory" in 1.13), so
    // only its text tells it from other errors.
    const std::string what = e.what_without_backtrace();
    if (what.find("can't allocate memory") != std::string::npos || what.find("not enough memory") != std::string::npos) {
      return run.OutOfMemory(what);
    }
    return FailedOutcome("LibTorch error: " + what, false);
  } catch (const std::invalid_argument& e) {
    return FailedOutcome(std::string("invalid job: ") + e.what(), false);
  } catch (const std::exception& e) {
    return FailedOutcome(std::string("training error: ") + e.what(), true);
  }
}

}  // namespace moe4::worker
