// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol
// on a WebSocket (Boost.Beast), for tests that check what a person sees in the
// dashboard: navigate, evaluate JavaScript, wait for a condition, take a
// screenshot. No chromium-driver needed. One browser process per object, with
// its own profile directory; not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace moe4::testing {

class CdpBrowser {
 public:
  // Starts chromium ($MOE4_CHROMIUM or "chromium") and attaches to its page.
  static absl::StatusOr<std::unique_ptr<CdpBrowser>> Launch(int width = 1400, int height = 1000);
  ~CdpBrowser();  // kills the browser, removes its profile

  // Loads `url` and waits for the load event.
  absl::Status Navigate(const std::string& url);
  // The value of `expression` (awaited when it is a promise), as JSON; an
  // error when it throws.
  absl::StatusOr<nlohmann::json> Eval(const std::string& expression);
  // Polls `expression` until it is truthy; false after `timeout`.
  bool WaitFor(const std::string& expression, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // A PNG of the whole page.
  absl::StatusOr<std::string> Screenshot();
  // Drops every cookie (a fresh visitor).
  absl::Status ClearCookies();

  struct Impl;

 private:
  explicit CdpBrowser(std::unique_ptr<Impl> impl);
  absl::StatusOr<nlohmann::json> Call(const std::string& method, nlohmann::json params);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe4::testing
