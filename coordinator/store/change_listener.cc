#include "coordinator/store/change_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "coordinator/store/pg_conninfo.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

// Seconds for connect, TCP and statement deadlines of the LISTEN connection.
constexpr int kDeadlineSeconds = 5;

// Hands each notification of one channel to the listener.
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::string& channel,
           std::function<void(const std::string&)> on_payload)
      : pqxx::notification_receiver(conn, channel), on_payload_(std::move(on_payload)) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override { on_payload_(payload); }

 private:
  std::function<void(const std::string&)> on_payload_;
};

}  // namespace

Change Change::Parse(absl::string_view payload) {
  Change c;
  if (payload == "workers") {
    c.kind = Kind::kWorkers;
  } else if (absl::ConsumePrefix(&payload, "campaign:")) {
    int64_t id = 0;
    if (absl::SimpleAtoi(payload, &id) && id > 0) {
      c.kind = Kind::kCampaign;
      c.campaign_id = id;
    }
  }
  return c;
}

ChangeListener::ChangeListener(ChangeListenerOptions options)
    : options_(std::move(options)), conninfo_(ConninfoWithDeadlines(options_.conninfo, kDeadlineSeconds)) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

ChangeListener::~ChangeListener() {
  Stop();
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void ChangeListener::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  char drain[16];
  while (wake_[0] >= 0 && ::read(wake_[0], drain, sizeof drain) > 0) {
  }  // a byte left by an earlier Stop
  thread_ = std::thread([this] { Run(); });
}

void ChangeListener::Stop() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  if (wake_[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &b, 1);
  }
  if (t.joinable()) t.join();
  listening_ = false;
}

int ChangeListener::Subscribe(Callback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  const int handle = next_handle_++;
  subscribers_.emplace(handle, std::move(callback));
  return handle;
}

void ChangeListener::Unsubscribe(int handle) {
  std::lock_guard<std::mutex> dispatching(dispatch_mu_);  // not while its callback runs
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.erase(handle);
}

void ChangeListener::Dispatch(const Change& change) {
  std::lock_guard<std::mutex> dispatching(dispatch_mu_);
  std::vector<Callback*> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [handle, cb] : subscribers_) callbacks.push_back(&cb);
  }
  // The map's nodes stay put: Unsubscribe waits for dispatch_mu_.
  for (Callback* cb : callbacks) (*cb)(change);
}

bool ChangeListener::SleepUnlessStopped(absl::Duration d) {
  pollfd p{wake_[0], POLLIN, 0};
  const int ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(d)));
  if (wake_[0] >= 0) {
    while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
    }
  }
  return !stop_;
}

void ChangeListener::Run() {
  absl::Duration backoff = options_.reconnect_min;
  while (!stop_) {
    const absl::Time began = absl::Now();
    Listen();
    listening_ = false;
    if (stop_) break;
    // A connection that lived a while starts the back-off afresh.
    if (absl::Now() - began > options_.reconnect_max) backoff = options_.reconnect_min;
    if (!SleepUnlessStopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
}

void ChangeListener::Listen() {
  try {
    pqxx::connection conn(conninfo_);
    Receiver receiver(conn, options_.channel, [this](const std::string& payload) {
      received_.fetch_add(1);
      Dispatch(Change::Parse(payload));
    });
    // The receiver's LISTEN is sent on first use; make it take effect now,
    // and name the session for whoever reads pg_stat_activity.
    pqxx::nontransaction(conn).exec("SET application_name = 'moe4-change-listener'");
    listening_ = true;
    spdlog::info("listening for database changes on channel {}", options_.channel);
    Dispatch(Change{});  // whatever happened while nobody listened
    absl::Time last_traffic = absl::Now();
    while (!stop_) {
      pollfd fds[2] = {{conn.sock(), POLLIN, 0}, {wake_[0], POLLIN, 0}};
      const int ms = static_cast<int>(absl::ToInt64Milliseconds(options_.idle_ping));
      const int n = ::poll(fds, wake_[0] >= 0 ? 2 : 1, std::max(ms, 1));
      if (n < 0 && errno != EINTR) throw std::runtime_error("poll on the LISTEN connection failed");
      if (stop_) break;
      if (n > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        conn.get_notifs();  // dispatches; throws broken_connection on a closed socket
        last_traffic = absl::Now();
      } else if (absl::Now() - last_traffic >= options_.idle_ping) {
        pqxx::nontransaction(conn).exec("SELECT 1");  // bounded by tcp_user_timeout
        last_traffic = absl::Now();
      }
      if (!conn.is_open()) throw pqxx::broken_connection("the LISTEN connection closed");
    }
  } catch (const std::exception& e) {
    if (!stop_) {
      std::string why = e.what();
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      spdlog::warn("database change notifications lost ({}); watchers fall back to polling until reconnected",
                   why);
    }
  }
}

}  // namespace moe4::coordinator
