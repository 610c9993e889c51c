#include "coordinator/service/watch_hub.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace moe4::coordinator {
namespace {

constexpr char kMethod[] = "CampaignService/Watch";

bool CampaignFinished(const moe4::v1::GetResponse& snap) {
  const auto s = snap.campaign().state();
  return s == moe4::v1::CAMPAIGN_STATE_DONE || s == moe4::v1::CAMPAIGN_STATE_CANCELLED;
}

}  // namespace

// One Watch stream. Created by WatchHub::Open, deleted by itself in OnDone
// (gRPC's last call on it). Offer runs on the refresher thread with the hub's
// lock held; the reactions run on gRPC's threads; `mu_` orders them.
class WatchStream final : public grpc::ServerWriteReactor<moe4::v1::WatchResponse> {
 public:
  WatchStream(WatchHub* hub, grpc::CallbackServerContext* ctx, int64_t campaign_id)
      : hub_(hub), ctx_(ctx), campaign_id_(campaign_id), opened_(std::chrono::steady_clock::now()) {}

  int64_t campaign_id() const { return campaign_id_; }

  // A fresh snapshot of the campaign, or the error reading it.
  void Offer(const WatchHub::Snapshot& snap) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) return;
    if (!snap.ok()) {
      // A database blip must not end a long watch; a campaign that does not
      // exist (or any error before the first snapshot) does.
      if (!sent_any_ || !absl::IsUnavailable(snap.status())) EndLocked(snap.status());
      return;
    }
    std::string bytes = snap->SerializeAsString();
    if (sent_any_ && bytes == last_) return;
    last_ = std::move(bytes);
    sent_any_ = true;
    moe4::v1::WatchResponse out;
    *out.mutable_status() = *snap;
    const bool final = CampaignFinished(*snap);
    if (writing_) {
      next_ = std::move(out);  // replaces an older one not yet sent
      next_final_ = final;
      return;
    }
    WriteLocked(std::move(out), final);
  }

  // The hub stops: end with OK after any write in flight.
  void Shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ending_) EndLocked(absl::OkStatus());
  }

  // Ends a stream that failed its checks before it started.
  void Refuse(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    EndLocked(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {  // the client went away or the call was cancelled
      if (!ending_) {
        ending_ = true;
        status_ = absl::CancelledError("the client went away");
      }
      FinishNow();
      return;
    }
    if (ending_) {
      FinishNow();
    } else if (next_) {
      moe4::v1::WatchResponse out = std::move(*next_);
      next_.reset();
      WriteLocked(std::move(out), next_final_);
    } else if (final_written_) {
      EndLocked(absl::OkStatus());
    }
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ending_) EndLocked(absl::CancelledError("cancelled by the client"));
  }

  void OnDone() override {
    hub_->Remove(this);
    delete this;
  }

 private:
  void WriteLocked(moe4::v1::WatchResponse out, bool final) {
    current_ = std::move(out);
    writing_ = true;
    final_written_ = final;
    StartWrite(&current_);
  }

  // Decides the stream's end; Finish waits for a write in flight.
  void EndLocked(absl::Status status) {
    ending_ = true;
    status_ = std::move(status);
    if (!writing_) FinishNow();
  }

  void FinishNow() {
    if (finished_) return;
    finished_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
    Finish(hub_->runner_.Finished(*ctx_, kMethod, status_, seconds));
  }

  WatchHub* const hub_;
  grpc::CallbackServerContext* const ctx_;
  const int64_t campaign_id_;
  const std::chrono::steady_clock::time_point opened_;

  std::mutex mu_;
  bool sent_any_ = false;
  std::string last_;                               // the last snapshot sent, serialized
  moe4::v1::WatchResponse current_;                // the write in flight
  std::optional<moe4::v1::WatchResponse> next_;    // the newest snapshot waiting for it
  bool next_final_ = false;
  bool writing_ = false;
  bool final_written_ = false;  // the write in flight shows a finished campaign
  bool ending_ = false;
  bool finished_ = false;
  absl::Status status_;
};

WatchHub::WatchHub(SnapshotFn snapshot, const RpcRunner& runner, ChangeListener* listener, WatchHubOptions options)
    : snapshot_(std::move(snapshot)), runner_(runner), listener_(listener), options_(options) {}

WatchHub::~WatchHub() { Stop(); }

void WatchHub::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  if (listener_ != nullptr) {
    subscription_ = listener_->Subscribe([this](const Change& c) { OnChange(c); });
  }
  thread_ = std::thread([this] { Refresh(); });
}

void WatchHub::Stop() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (auto& [id, stream] : streams_) stream->Shutdown();
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
  if (listener_ != nullptr && subscription_ != 0) {
    listener_->Unsubscribe(subscription_);
    subscription_ = 0;
  }
}

int WatchHub::streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(streams_.size());
}

grpc::ServerWriteReactor<moe4::v1::WatchResponse>* WatchHub::Open(grpc::CallbackServerContext* ctx,
                                                                  int64_t campaign_id, absl::Status opened) {
  auto* stream = new WatchStream(this, ctx, campaign_id);
  std::lock_guard<std::mutex> lock(mu_);
  if (opened.ok() && stop_) opened = absl::UnavailableError("the coordinator is shutting down");
  if (opened.ok() && static_cast<int>(streams_.size()) >= options_.max_streams) {
    opened = absl::ResourceExhaustedError(
        absl::StrCat("too many concurrent watches (", options_.max_streams, "); poll with Get instead"));
  }
  // Registered even when refused: OnDone removes it either way.
  streams_.emplace(campaign_id, stream);
  if (!opened.ok()) {
    stream->Refuse(opened);
    return stream;
  }
  dirty_.insert(campaign_id);  // its first snapshot
  cv_.notify_all();
  return stream;
}

void WatchHub::Remove(WatchStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [first, last] = streams_.equal_range(stream->campaign_id());
  for (auto it = first; it != last; ++it) {
    if (it->second == stream) {
      streams_.erase(it);
      return;
    }
  }
}

void WatchHub::OnChange(const Change& change) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (change.kind) {
    case Change::Kind::kCampaign:
      if (streams_.count(change.campaign_id) == 0) return;
      dirty_.insert(change.campaign_id);
      break;
    case Change::Kind::kWorkers:  // pending reasons name live workers
    case Change::Kind::kEverything:
      all_dirty_ = true;
      break;
  }
  cv_.notify_all();
}

void WatchHub::Refresh() {
  std::unique_lock<std::mutex> lock(mu_);
  absl::Time next_sweep = absl::Now();
  while (!stop_) {
    const bool notified = listener_ != nullptr && listener_->listening();
    const absl::Duration period = notified ? options_.resync : options_.poll;
    cv_.wait_for(lock, absl::ToChronoMilliseconds(std::max(absl::ZeroDuration(), next_sweep - absl::Now())),
                 [this] { return stop_ || all_dirty_ || !dirty_.empty(); });
    if (stop_) break;
    if (absl::Now() >= next_sweep) {
      all_dirty_ = true;
      next_sweep = absl::Now() + period;
    }
    std::vector<int64_t> ids;
    if (all_dirty_) {
      for (auto it = streams_.begin(); it != streams_.end(); it = streams_.upper_bound(it->first)) {
        ids.push_back(it->first);
      }
    } else {
      for (int64_t id : dirty_) {
        if (streams_.count(id) != 0) ids.push_back(id);
      }
    }
    all_dirty_ = false;
    dirty_.clear();
    for (int64_t id : ids) {
      lock.unlock();
      Snapshot snap = snapshot_(id);  // a database read: never under the lock
      lock.lock();
      if (stop_) break;
      auto [first, last] = streams_.equal_range(id);
      for (auto it = first; it != last; ++it) it->second->Offer(snap);
    }
  }
}

}  // namespace moe4::coordinator
