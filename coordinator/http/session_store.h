// Browser sessions of the dashboard: a random id (the HttpOnly cookie) that
// stands for a role until it expires, and a CSRF token the page must echo in
// a header on every state-changing request. In memory: sessions end with the
// process and are not shared between coordinators (sign in again). Safe for
// concurrent use.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace moe4::coordinator {

enum class Role { kReader, kAdmin };
const char* RoleName(Role role);

struct BrowserSession {
  std::string id;    // 32 random bytes, hex
  std::string csrf;  // 32 random bytes, hex
  Role role = Role::kReader;
  absl::Time expires;
};

class SessionStore {
 public:
  explicit SessionStore(absl::Duration ttl = absl::Hours(12), size_t max_sessions = 10000)
      : ttl_(ttl), max_sessions_(max_sessions) {}

  // A new session; drops the oldest when there are max_sessions already.
  BrowserSession Create(Role role);
  // The live session with this id, or nullopt (unknown, expired).
  std::optional<BrowserSession> Find(const std::string& id);
  void Erase(const std::string& id);
  absl::Duration ttl() const { return ttl_; }

  // 2n hex digits from the system's CSPRNG (getrandom); throws when it fails.
  static std::string RandomHex(size_t n);

 private:
  const absl::Duration ttl_;
  const size_t max_sessions_;
  std::mutex mu_;
  std::map<std::string, BrowserSession> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moe4::coordinator
