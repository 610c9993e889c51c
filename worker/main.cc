// moe4-worker: the worker daemon (one per GPU). Registers with the
// coordinator, leases jobs, trains them in LibTorch and reports back.
//
//   moe4-worker [--coordinator host:port] [--token-file FILE] [--name NAME]
//               [--device cpu|cuda:N] [--threads N] [--checkpoint-dir DIR]
//               [--data-root DIR] [--log-level info] [--tls] [--tls-ca FILE]
//               [--checkpoint-max-bytes N] [--checkpoint-max-age-hours H]
//               [--jobs-per-device N] [--device-memory-mb MiB]
//               [--job-isolation process|thread] [--job-memory-max MiB]
//               [--job-cgroup DIR] [--http-listen 127.0.0.1:9465]
//
// Each job trains in a child process of its own by default (moe4-worker
// --trainer-process, worker/agent/trainer_process.h): an abort, a crash or
// the kernel's OOM killer then ends that job, never the daemon.
//
// The token comes from --token-file or $MOE4_WORKER_TOKEN, never from the
// command line (it would show in ps). SIGINT/SIGTERM: stop after the current
// batch, tell the coordinator, exit 0; a second signal exits at once.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "worker/agent/agent.h"
#include "worker/agent/coordinator_client.h"
#include "worker/agent/metrics_endpoint.h"
#include "worker/agent/worker_metrics.h"
#include "worker/agent/trainer_process.h"
#include "worker/data/loader.h"
#include "worker/models/registry.h"
#include "worker/train/device.h"
#include "worker/train/omp_env.h"

namespace {

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string Hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "worker";
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace moe4::worker;
  PrepareCpuRuntime(argv);  // may re-exec; see omp_env.h
  if (argc >= 2 && std::string(argv[1]) == kTrainerProcessFlag) return TrainerProcessMain(BuiltinRegistry());
  CLI::App app{"moe4-worker: trains MoE jobs leased from a moe4 coordinator"};
  CoordinatorClientOptions client_options;
  std::string token_file;
  std::string name;
  std::string device_text = "cpu";
  int threads = DefaultThreads();
  std::string checkpoint_dir = "./moe4-checkpoints";
  std::string data_root = kDefaultDataRoot;
  std::string data_cache;
  int64_t max_image_pixels = kDefaultMaxImagePixels;
  std::string log_level = "info";
  int rpc_timeout_ms = 20000;
  uint64_t checkpoint_max_bytes = 0;
  int64_t checkpoint_max_age_hours = 24 * 7;
  int jobs_per_device = 1;
  int64_t device_memory_mb = 0;
  std::string job_isolation = "process";
  int64_t job_memory_max_mb = 0;
  std::string job_cgroup;
  std::string http_listen;
  app.add_option("--coordinator", client_options.target, "coordinator host:port")->capture_default_str();
  app.add_option("--token-file", token_file, "file holding the worker bearer token (else $MOE4_WORKER_TOKEN)");
  app.add_option("--name", name, "unique worker name (default: <hostname>-<device>)");
  app.add_option("--device", device_text, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--checkpoint-dir", checkpoint_dir, "per-job checkpoints and report queues")->capture_default_str();
  app.add_option("--checkpoint-max-bytes", checkpoint_max_bytes,
                 "bound on --checkpoint-dir: before each checkpoint, the oldest jobs not running here are "
                 "removed until it fits (0 = unlimited)")
      ->capture_default_str();
  app.add_option("--checkpoint-max-age-hours", checkpoint_max_age_hours,
                 "at startup, remove checkpoint files of jobs untouched for this long (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{24} * 365 * 10));
  app.add_option("--jobs-per-device", jobs_per_device,
                 "jobs trained at once on the device, each on its own thread and CUDA stream; a job is leased "
                 "only while the device has memory free for it (on a CPU, give each job --threads cores / N)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--device-memory-mb", device_memory_mb,
                 "memory of the device this daemon may use, for a device shared with other work "
                 "(0 = all of it): registered as the device's memory, and no job is given more")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app.add_option("--job-isolation", job_isolation,
                 "process: each job trains in a child process, so an abort, a crash or the OOM killer ends the "
                 "job and not this daemon; thread: on a thread of the daemon (datasets stay loaded between jobs)")
      ->capture_default_str()
      ->check(CLI::IsMember({"process", "thread"}));
  app.add_option("--job-memory-max", job_memory_max_mb,
                 "with --job-isolation process: the host memory (MiB) one job's process may use (a memory "
                 "cgroup with --job-cgroup, else RLIMIT_DATA); a job needing more fails as out of memory and "
                 "goes to a worker with more (0 = no limit)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app.add_option("--job-cgroup", job_cgroup,
                 "with --job-memory-max: a cgroup directory delegated to this worker (cgroup v2 with the "
                 "memory controller, or a cgroup v1 memory cgroup; 'self': this process's own, what systemd's "
                 "Delegate=yes gives the unit); each job's process gets a memory cgroup in it limited to "
                 "--job-memory-max");
  app.add_option("--data-root", data_root,
                 "where datasets live: default directories are looked up here and a campaign's dataset.path "
                 "must resolve inside it")
      ->capture_default_str();
  app.add_option("--data-cache", data_cache,
                 "where folder/tinyimagenet datasets keep their decoded images (one file per dataset and "
                 "resize); default <dataset>/.moe4-cache, 'none' = never cache");
  app.add_option("--max-image-pixels", max_image_pixels,
                 "folder/tinyimagenet: an image whose header claims more pixels is a bad file (PNG bombs)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_flag("--tls", client_options.tls, "use TLS with the system root certificates");
  app.add_option("--tls-ca", client_options.tls_ca_file, "use TLS with this root CA (PEM)");
  // "off" as well as "", as for the coordinator's flag of the same name.
  app.add_option("--http-listen", http_listen,
                 "serve Prometheus /metrics (jobs, epochs, images/s, device memory, retries) on this IP:PORT; "
                 "no authentication, so keep it on loopback (127.0.0.1:9465) or a firewalled address "
                 "(default: off)");
  app.add_option("--rpc-timeout-ms", rpc_timeout_ms, "deadline of each RPC")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [moe4-worker] [%l] %v");

  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) {
      spdlog::error("--token-file {}: cannot read", token_file);
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    token = Trim(text.str());
    if (token.empty()) {
      spdlog::error("--token-file {}: empty", token_file);
      return 2;
    }
  } else if (const char* env = std::getenv("MOE4_WORKER_TOKEN"); env != nullptr) {
    token = Trim(env);
  }
  if (token.empty()) {
    spdlog::warn("no worker token (--token-file or MOE4_WORKER_TOKEN): calls are unauthenticated");
  }
  client_options.token = token;
  client_options.rpc_timeout = std::chrono::milliseconds(rpc_timeout_ms);

  auto device = ParseDevice(device_text);
  if (!device.ok()) {
    spdlog::error("{}", std::string(device.status().message()));
    return 2;
  }
  if (name.empty()) {
    std::string d = device->str();
    d.erase(std::remove(d.begin(), d.end(), ':'), d.end());
    name = Hostname() + "-" + d;
  }
  torch::set_num_threads(threads);

  // Before anything connects: a bad --http-listen is a configuration error
  // (exit 2), not something to find out at the first scrape.
  auto metrics = std::make_shared<WorkerMetrics>(name, device->str());
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  if (http_listen == "off") http_listen.clear();
  if (!http_listen.empty()) {
    auto endpoint = MetricsEndpoint::Start(http_listen, metrics->registry());
    if (!endpoint.ok()) {
      spdlog::error("{}", std::string(endpoint.status().message()));
      return 2;
    }
    metrics_endpoint = std::move(*endpoint);
    // Scripts and tests that pass port 0 read the port from this line.
    spdlog::info("http (/metrics): {}:{}", http_listen.substr(0, http_listen.rfind(':')), metrics_endpoint->port());
  }

  // The factory also makes the replacement channels of a client whose
  // coordinator stays unreachable (coordinator_client.cc).
  CoordinatorClient::ChannelFactory channel_factory = [client_options] {
    return MakeCoordinatorChannel(client_options);
  };
  std::unique_ptr<CoordinatorClient> client_holder;
  try {
    client_holder = std::make_unique<CoordinatorClient>(channel_factory, client_options.token,
                                                        client_options.rpc_timeout);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  CoordinatorClient& client = *client_holder;
  AgentOptions agent_options;
  agent_options.name = name;
  agent_options.device = *device;
  agent_options.threads = threads;
  agent_options.checkpoint_dir = checkpoint_dir;
  agent_options.data_root = data_root;
  agent_options.data_cache = data_cache;
  agent_options.max_image_pixels = max_image_pixels;
  agent_options.checkpoint_max_bytes = checkpoint_max_bytes;
  agent_options.checkpoint_max_age = std::chrono::hours(checkpoint_max_age_hours);
  agent_options.jobs_per_device = jobs_per_device;
  agent_options.device_memory_cap_mb = device_memory_mb;
  agent_options.log_level = log_level;
  agent_options.job_memory_max_mb = job_memory_max_mb;
  agent_options.metrics = metrics;
  if (job_isolation == "process") {
    agent_options.job_isolation = JobIsolation::kProcess;
    agent_options.trainer_executable = CurrentExecutable();
    if (agent_options.trainer_executable.empty()) {
      spdlog::error("--job-isolation process: cannot find this executable (/proc/self/exe); use --job-isolation thread");
      return 2;
    }
  } else if (job_memory_max_mb > 0) {
    spdlog::error("--job-memory-max needs --job-isolation process (a thread cannot be limited apart from the daemon)");
    return 2;
  }
  if (!job_cgroup.empty()) {
    if (job_memory_max_mb <= 0) {
      spdlog::error("--job-cgroup: needs --job-memory-max (the limit its job cgroups get)");
      return 2;
    }
    auto cgroups = JobCgroups::Open(job_cgroup);
    if (!cgroups.ok()) {
      spdlog::error("{}", std::string(cgroups.status().message()));
      return 2;
    }
    if (const int stale = (*cgroups)->SweepStale(); stale > 0) {
      spdlog::info("removed {} job cgroup(s) a previous worker left in {}", stale, (*cgroups)->dir());
    }
    spdlog::info("each job's process runs in a memory cgroup under {} limited to {} MiB ({})", (*cgroups)->dir(),
                 job_memory_max_mb, (*cgroups)->version() == CgroupVersion::kV2 ? "cgroup v2" : "cgroup v1");
    agent_options.job_cgroups = *std::move(cgroups);
  }
  Agent agent(client, BuiltinRegistry(), agent_options);

  // Signals are handled on their own io_context thread: the first asks the
  // agent to stop after the current batch, the second exits at once.
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  std::atomic<int> received{0};
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                             int signo) {
    if (ec) return;
    if (received.fetch_add(1) > 0) {
      spdlog::warn("second signal ({}): exiting now", signo);
      spdlog::default_logger()->flush();
      std::_Exit(128 + signo);
    }
    spdlog::info("signal {}: stopping after the current batch (again to exit now)", signo);
    agent.RequestShutdown();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  std::thread signal_thread([&] { signal_io.run(); });

  spdlog::info("moe4-worker '{}' on {} with {} threads, {} job(s) at a time ({}), coordinator {}", name,
               device->str(), threads, jobs_per_device,
               job_isolation == "process" ? "each in a trainer process" : "on threads of the daemon",
               client_options.target);
  const int code = agent.Run();
  signal_io.stop();
  signal_thread.join();
  return code;
}
