#include "worker/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace moe4::worker {
namespace {

constexpr int64_t kFormatVersion = 1;

torch::Tensor StringTensor(const std::string& s) {
  auto t = torch::empty({static_cast<int64_t>(s.size())}, torch::kUInt8);
  if (!s.empty()) std::memcpy(t.data_ptr<uint8_t>(), s.data(), s.size());
  return t;
}

std::string TensorString(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU).contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
}

absl::StatusOr<CheckpointState> ReadMeta(torch::serialize::InputArchive& archive, const std::string& path) {
  torch::Tensor version, identity, epoch, step, history;
  archive.read("meta_version", version);
  if (version.item<int64_t>() != kFormatVersion) {
    return absl::FailedPreconditionError(path + ": unsupported checkpoint version " +
                                         std::to_string(version.item<int64_t>()));
  }
  archive.read("meta_identity", identity);
  archive.read("meta_epoch", epoch);
  archive.read("meta_global_step", step);
  archive.read("meta_history", history);
  CheckpointState state;
  state.identity = TensorString(identity);
  state.epoch = static_cast<int32_t>(epoch.item<int64_t>());
  state.global_step = step.item<int64_t>();
  moe4::v1::ReportEpochsRequest container;  // a repeated EpochMetrics holder
  if (!container.ParseFromString(TensorString(history))) {
    return absl::DataLossError(path + ": corrupt metrics history");
  }
  state.history.assign(container.epochs().begin(), container.epochs().end());
  if (static_cast<int32_t>(state.history.size()) != state.epoch) {
    return absl::DataLossError(path + ": history has " + std::to_string(state.history.size()) +
                               " epochs but the checkpoint is at epoch " + std::to_string(state.epoch));
  }
  return state;
}

}  // namespace

std::string CheckpointIdentity(const moe4::v1::JobAssignment& job) {
  moe4::v1::JobAssignment key;
  key.set_job_id(job.job_id());
  key.set_campaign_id(job.campaign_id());
  *key.mutable_families() = job.families();
  *key.mutable_recipe() = job.recipe();
  *key.mutable_dataset() = job.dataset();
  std::string bytes;
  key.SerializeToString(&bytes);  // deterministic for the same message in one build
  return bytes;
}

absl::Status SaveCheckpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                            const CheckpointState& state) {
  const std::string tmp = path + ".tmp";
  try {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive model_archive;
    model.save(model_archive);
    archive.write("model", model_archive);
    torch::serialize::OutputArchive optimizer_archive;
    optimizer.save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("meta_version", torch::tensor(kFormatVersion));
    archive.write("meta_identity", StringTensor(state.identity));
    archive.write("meta_epoch", torch::tensor(static_cast<int64_t>(state.epoch)));
    archive.write("meta_global_step", torch::tensor(state.global_step));
    moe4::v1::ReportEpochsRequest container;
    for (const auto& m : state.history) *container.add_epochs() = m;
    archive.write("meta_history", StringTensor(container.SerializeAsString()));
    // Written through our own descriptor, never short: LibTorch's stream
    // writer, handed a short write (a full disk), throws from its destructor
    // and std::terminate takes the whole daemon. The first error is kept and
    // the rest of the archive is skipped; fsync before the rename, so that a
    // crash never leaves a renamed but unwritten checkpoint.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError(path + ": cannot write checkpoint: " + std::strerror(errno));
    int write_errno = 0;
    try {
      archive.save_to([&](const void* data, size_t n) -> size_t {
        const char* p = static_cast<const char*>(data);
        size_t left = n;
        while (write_errno == 0 && left > 0) {
          const ssize_t written = ::write(fd, p, left);
          if (written < 0) {
            if (errno != EINTR) write_errno = errno;
            continue;
          }
          p += written;
          left -= static_cast<size_t>(written);
        }
        return n;
      });
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (write_errno == 0 && ::fsync(fd) != 0) write_errno = errno;
    if (::close(fd) != 0 && write_errno == 0) write_errno = errno;
    if (write_errno != 0) {
      std::remove(tmp.c_str());
      return absl::InternalError(path + ": cannot write checkpoint: " + std::strerror(write_errno));
    }
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return absl::InternalError(path + ": cannot write checkpoint: " + e.what());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::InternalError(path + ": cannot rename checkpoint into place: " + ec.message());
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointState> PeekCheckpoint(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(path + ": no checkpoint");
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::kCPU);
    return ReadMeta(archive, path);
  } catch (const std::exception& e) {
    return absl::DataLossError(path + ": unreadable checkpoint: " + e.what());
  }
}

absl::StatusOr<CheckpointState> LoadCheckpoint(const std::string& path, torch::nn::Module& model,
                                               torch::optim::Optimizer& optimizer, const torch::Device& device) {
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(path + ": no checkpoint");
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    auto state = ReadMeta(archive, path);
    if (!state.ok()) return state;
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model.load(model_archive);
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    return state;
  } catch (const std::exception& e) {
    return absl::DataLossError(path + ": unreadable checkpoint: " + e.what());
  }
}

}  // namespace moe4::worker
