// The worker daemon's optional HTTP listener (moe4-worker --http-listen):
// GET /metrics answers with a prometheus-cpp registry in the text format
// (prometheus-cpp's TextSerializer); any other path is 404. Like the
// coordinator's /metrics it has no authentication, hence loopback or a
// firewalled address only.
//
// A Boost.Beast server of its own rather than prometheus-cpp's Exposer:
// Debian's civetweb (under the Exposer) starts its threads with 100 KiB
// stacks, and glibc refuses such threads (EINVAL) in a process whose static
// TLS is larger, as LibTorch's is with OpenBLAS (60 KiB) and glog (30 KiB)
// loaded: the Exposer works in a test binary and fails in moe4-worker.
//
// One thread runs all socket work: each connection reads one request within
// a deadline (a slow client cannot hold it), gets its answer, and is closed.
// Start() and the destructor are called from one thread; the registry is
// read on the server's thread (prometheus-cpp's registries are thread-safe).
#ifndef MOE4_WORKER_AGENT_METRICS_ENDPOINT_H_
#define MOE4_WORKER_AGENT_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace moe4::worker {

class MetricsEndpoint {
 public:
  // `address` is IPV4:PORT or [IPV6]:PORT, a literal address ("0.0.0.0" is
  // every interface); port 0 lets the kernel pick one (port() says which).
  // `metrics` is held weakly: once it is gone, /metrics answers empty.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                                 std::weak_ptr<prometheus::Collectable> metrics);
  ~MetricsEndpoint();  // stops listening and joins the thread
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The port listened on.
  int port() const;

 private:
  struct Server;
  explicit MetricsEndpoint(std::unique_ptr<Server> server);

  std::unique_ptr<Server> server_;
};

// Whether `address` is a listen address Start() accepts; the error names
// --http-listen and says what is wrong.
absl::Status CheckListenAddress(const std::string& address);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_METRICS_ENDPOINT_H_
