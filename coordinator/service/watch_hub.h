// WatchHub: serves CampaignService.Watch streams on gRPC's callback API, so
// that an open stream costs a small object, not a thread.
//
// One refresher thread re-reads a campaign's snapshot when the database says
// it changed (ChangeListener, LISTEN/NOTIFY) and offers it to every stream
// watching that campaign; a stream writes a snapshot only when it differs
// from the last one it sent, keeps at most one write in flight (a slow
// client gets the newest snapshot next, never a backlog) and ends with OK
// after the first snapshot of a finished campaign. Without notifications
// (no listener, or its connection is down) every watched campaign is re-read
// each `poll`; with them, each `resync` (pending reasons depend on worker
// liveness, which notifies nothing).
//
// Thread-safe. Stop() ends every stream with OK and refuses new ones; the
// gRPC server's Shutdown then has nothing to wait for.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/support/server_callback.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/service/rpc_runner.h"
#include "coordinator/store/change_listener.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator {

struct WatchHubOptions {
  absl::Duration poll = absl::Seconds(1);     // re-read period without notifications
  absl::Duration resync = absl::Seconds(1);   // re-read period with them (epochs notify nothing)
  int max_streams = 4096;                     // concurrent streams
};

class WatchStream;

class WatchHub {
 public:
  using Snapshot = absl::StatusOr<moe4::v1::GetResponse>;
  using SnapshotFn = std::function<Snapshot(int64_t campaign_id)>;

  // `listener` may be null (polling only); it and `runner` must outlive the
  // hub. `snapshot` is called on the refresher thread only.
  WatchHub(SnapshotFn snapshot, const RpcRunner& runner, ChangeListener* listener, WatchHubOptions options);
  ~WatchHub();  // Stop()s
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void Start();
  void Stop();

  // The reactor for a new stream on `campaign_id`; `opened` is the status of
  // the checks made before (authorisation, the id): not OK finishes at once.
  grpc::ServerWriteReactor<moe4::v1::WatchResponse>* Open(grpc::CallbackServerContext* ctx,
                                                          int64_t campaign_id, absl::Status opened);

  int streams() const;

 private:
  friend class WatchStream;
  void Refresh();  // the refresher thread
  void OnChange(const Change& change);
  void Remove(WatchStream* stream);  // from the stream's OnDone

  const SnapshotFn snapshot_;
  const RpcRunner& runner_;
  ChangeListener* const listener_;
  const WatchHubOptions options_;
  int subscription_ = 0;

  mutable std::mutex mu_;  // guards everything below; held while offering
  std::condition_variable cv_;
  std::multimap<int64_t, WatchStream*> streams_;  // by campaign
  std::set<int64_t> dirty_;                       // campaigns to re-read
  bool all_dirty_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace moe4::coordinator
