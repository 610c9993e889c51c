// Change notifications (migration 014, ChangeListener) and what they drive:
// Watch streams on the callback API. Real PostgreSQL, a real coordinator on
// loopback, real gRPC clients.
#include <dirent.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "coordinator/store/change_listener.h"
#include "tests/coordinator/service_fixture.h"

namespace moe4::coordinator {
namespace {

using testing::SpecOptions;
using testing::SpecYaml;

// Collects what a listener reports; waits for a matching change.
class Recorder {
 public:
  void Add(const Change& c) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(c);
    cv_.notify_all();
  }
  // Waits until a change satisfying `match` arrived after index `from`.
  template <typename Match>
  bool WaitFor(size_t from, Match match, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < seen_.size(); ++i) {
        if (match(seen_[i])) return true;
      }
      return false;
    });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }
  std::vector<Change> Since(size_t from) {
    std::lock_guard<std::mutex> lock(mu_);
    return {seen_.begin() + static_cast<std::ptrdiff_t>(std::min(from, seen_.size())), seen_.end()};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Change> seen_;
};

auto IsCampaign(int64_t id) {
  return [id](const Change& c) { return c.kind == Change::Kind::kCampaign && c.campaign_id == id; };
}
bool IsEverything(const Change& c) { return c.kind == Change::Kind::kEverything; }
bool IsWorkers(const Change& c) { return c.kind == Change::Kind::kWorkers; }

TEST(ChangeParse, ReadsEachPayloadAndTreatsUnknownOnesAsEverything) {
  EXPECT_EQ(Change::Parse("campaign:42").kind, Change::Kind::kCampaign);
  EXPECT_EQ(Change::Parse("campaign:42").campaign_id, 42);
  EXPECT_EQ(Change::Parse("workers").kind, Change::Kind::kWorkers);
  EXPECT_EQ(Change::Parse("campaign:").kind, Change::Kind::kEverything);
  EXPECT_EQ(Change::Parse("campaign:-3").kind, Change::Kind::kEverything);
  EXPECT_EQ(Change::Parse("campaign:12x").kind, Change::Kind::kEverything);
  EXPECT_EQ(Change::Parse("jobs:7").kind, Change::Kind::kEverything);
}

class ChangeNotifyTest : public ServiceFixture {
 protected:
  void StartListener() {
    ChangeListenerOptions o;
    o.conninfo = db_.url();
    o.reconnect_min = absl::Milliseconds(50);
    o.reconnect_max = absl::Milliseconds(200);
    listener_ = std::make_unique<ChangeListener>(o);
    listener_->Subscribe([this](const Change& c) { recorder_.Add(c); });
    listener_->Start();
    ASSERT_TRUE(recorder_.WaitFor(0, IsEverything)) << "the listener never connected";
  }
  void TearDown() override {
    if (listener_) listener_->Stop();
    ServiceFixture::TearDown();
  }

  Recorder recorder_;
  std::unique_ptr<ChangeListener> listener_;
};

TEST_F(ChangeNotifyTest, StateChangesNotifyTheirCampaignAndEpochsAndLeaseRenewalsDoNot) {
  StartListener();
  SpecOptions spec;
  spec.budget = 2;
  spec.epochs = 2;
  moe4::v1::SubmitResponse sub;
  size_t mark = recorder_.size();
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  const int64_t id = sub.campaign_id();
  EXPECT_TRUE(recorder_.WaitFor(mark, IsCampaign(id))) << "a submission sent nothing";

  mark = recorder_.size();
  const int64_t w = Register("w");
  EXPECT_TRUE(recorder_.WaitFor(mark, IsWorkers)) << "a registration sent nothing";

  mark = recorder_.size();
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());
  EXPECT_TRUE(recorder_.WaitFor(mark, IsCampaign(id))) << "a lease sent nothing";

  // Heartbeats only move the lease deadline and last_seen, and epoch reports
  // are left to the watchers' 1 s resync (a notifying commit takes the
  // server's global notify lock: one per epoch halved trials/s). Neither
  // sends anything: any notification within 1.5 s fails. (The first epoch
  // makes the job running, a state change that does notify.)
  mark = recorder_.size();
  ASSERT_TRUE(ReportEpoch(w, lease.job(), 1, 0.5).ok());
  EXPECT_TRUE(recorder_.WaitFor(mark, IsCampaign(id))) << "leased -> running sent nothing";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  mark = recorder_.size();
  ASSERT_TRUE(ReportEpoch(w, lease.job(), 2, 0.5).ok());
  moe4::v1::HeartbeatResponse hb;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Heartbeat(w, lease.job(), &hb).ok());
  EXPECT_FALSE(recorder_.WaitFor(mark, [](const Change&) { return true; }, std::chrono::milliseconds(1500)))
      << "an epoch and heartbeats sent " << recorder_.Since(mark).size() << " notifications";

  mark = recorder_.size();
  moe4::v1::CancelRequest cancel;
  cancel.set_campaign_id(id);
  moe4::v1::CancelResponse cancelled;
  auto ctx = Context(kAdminToken);
  ASSERT_TRUE(campaign_->Cancel(ctx.get(), cancel, &cancelled).ok());
  EXPECT_TRUE(recorder_.WaitFor(mark, IsCampaign(id))) << "a cancel sent nothing";
  EXPECT_GT(listener_->received(), 0);
}

TEST_F(ChangeNotifyTest, ASubmissionOfManyJobsIsOneNotification) {
  StartListener();
  SpecOptions spec;
  spec.families = {"AirNet", "AirNext", "AlexNet", "BagNet", "ConvNeXt", "DPN68", "DarkNet", "DenseNet"};
  spec.k = 3;
  spec.budget = 50;
  const int64_t before = listener_->received();
  moe4::v1::SubmitResponse sub;
  const grpc::Status submitted = Submit(SpecYaml(spec), false, &sub);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  ASSERT_EQ(sub.jobs(), 50);
  ASSERT_TRUE(recorder_.WaitFor(0, IsCampaign(sub.campaign_id())));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The campaign row and 50 job rows in one transaction: PostgreSQL folds
  // the identical payloads into one.
  EXPECT_EQ(listener_->received() - before, 1);
}

TEST_F(ChangeNotifyTest, ReconnectsAfterItsSessionIsKilledAndSaysChangesMayHaveBeenMissed) {
  StartListener();
  ASSERT_TRUE(listener_->listening());
  size_t mark = recorder_.size();
  {
    pqxx::connection admin(db_.url());
    pqxx::nontransaction txn(admin);
    const pqxx::result r = txn.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'moe4-change-listener'");
    // This test's listener and the coordinator's.
    ASSERT_EQ(r.size(), 2u) << "the LISTEN sessions were not found";
  }
  EXPECT_TRUE(recorder_.WaitFor(mark, IsEverything)) << "no reconnect reported";
  mark = recorder_.size();
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(SpecOptions{}), false, &sub).ok());
  EXPECT_TRUE(recorder_.WaitFor(mark, IsCampaign(sub.campaign_id()))) << "nothing after the reconnect";
}

// A coordinator whose Watch and dashboard never poll within a test's time:
// whatever a stream shows arrived by notification.
class NotifiedWatchTest : public ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    CoordinatorOptions o = Options();
    o.watch_poll = absl::Seconds(120);
    o.watch_resync = absl::Seconds(120);
    auto s = CoordinatorServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    Connect();
  }
};

TEST_F(NotifiedWatchTest, AStreamShowsAChangeAtOnceWithoutPolling) {
  SpecOptions spec;
  spec.budget = 2;
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());

  auto ctx = Context(kAdminToken);
  moe4::v1::WatchRequest req;
  req.set_campaign_id(sub.campaign_id());
  auto reader = campaign_->Watch(ctx.get(), req);
  moe4::v1::WatchResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status().campaign().pending(), 2);

  const int64_t w = Register("w");
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  const auto leased_at = std::chrono::steady_clock::now();
  // The registration (fleet) and the lease each re-read the campaign; read
  // until the lease shows.
  bool saw_lease = false;
  while (!saw_lease && reader->Read(&r)) {
    saw_lease = r.status().campaign().pending() == 1;
  }
  ASSERT_TRUE(saw_lease);
  EXPECT_LT(std::chrono::steady_clock::now() - leased_at, std::chrono::seconds(5));

  moe4::v1::CancelRequest cancel;
  cancel.set_campaign_id(sub.campaign_id());
  moe4::v1::CancelResponse cancelled;
  auto cctx = Context(kAdminToken);
  ASSERT_TRUE(campaign_->Cancel(cctx.get(), cancel, &cancelled).ok());
  moe4::v1::WatchResponse last;
  while (reader->Read(&r)) last = r;
  const grpc::Status end = reader->Finish();
  EXPECT_TRUE(end.ok()) << end.error_message();
  EXPECT_EQ(last.status().campaign().state(), moe4::v1::CAMPAIGN_STATE_CANCELLED);
}

int ThreadsOfThisProcess() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

TEST_F(NotifiedWatchTest, FiveHundredOpenStreamsHoldNoThreadEach) {
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(SpecOptions{}), false, &sub).ok());
  const int threads_before = ThreadsOfThisProcess();

  // Asynchronous clients on one completion queue: the client side adds no
  // thread per stream either, so the count below is the server's.
  constexpr int kStreams = 500;
  grpc::CompletionQueue cq;
  struct Stream {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncReader<moe4::v1::WatchResponse>> reader;
    moe4::v1::WatchResponse first;
    grpc::Status end;
  };
  std::vector<Stream> streams(kStreams);
  moe4::v1::WatchRequest req;
  req.set_campaign_id(sub.campaign_id());
  for (int i = 0; i < kStreams; ++i) {
    streams[i].ctx = Context(kAdminToken);
    streams[i].reader = campaign_->PrepareAsyncWatch(streams[i].ctx.get(), req, &cq);
    streams[i].reader->StartCall(reinterpret_cast<void*>(static_cast<intptr_t>(2 * i)));
  }
  // Each stream: its start, then its first snapshot.
  int started = 0, first_reads = 0;
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(60);
  while (first_reads < kStreams) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_EQ(cq.AsyncNext(&tag, &ok, deadline), grpc::CompletionQueue::GOT_EVENT)
        << started << " started, " << first_reads << " read";
    ASSERT_TRUE(ok);
    const auto t = reinterpret_cast<intptr_t>(tag);
    Stream& s = streams[t / 2];
    if (t % 2 == 0) {
      ++started;
      s.reader->Read(&s.first, reinterpret_cast<void*>(t + 1));
    } else {
      ++first_reads;
    }
  }
  const int threads_open = ThreadsOfThisProcess();
  for (const Stream& s : streams) EXPECT_EQ(s.first.status().campaign().campaign_id(), sub.campaign_id());
  EXPECT_LT(threads_open - threads_before, 50)
      << kStreams << " open Watch streams took " << threads_open - threads_before << " threads";

  // The server still answers while they are open.
  moe4::v1::GetRequest get;
  get.set_campaign_id(sub.campaign_id());
  moe4::v1::GetResponse got;
  auto gctx = Context(kAdminToken);
  EXPECT_TRUE(campaign_->Get(gctx.get(), get, &got).ok());

  for (Stream& s : streams) s.ctx->TryCancel();
  for (int i = 0; i < kStreams; ++i) {
    streams[i].reader->Finish(&streams[i].end, reinterpret_cast<void*>(static_cast<intptr_t>(-1)));
  }
  int finished = 0;
  while (finished < kStreams) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_EQ(cq.AsyncNext(&tag, &ok, deadline), grpc::CompletionQueue::GOT_EVENT);
    finished += reinterpret_cast<intptr_t>(tag) == -1;
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace moe4::coordinator
