#include "worker/train/checkpoint.h"

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
    archive.save_to(tmp);
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
