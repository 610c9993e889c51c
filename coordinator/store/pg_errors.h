// Translation of libpqxx exceptions into absl::Status, at the store boundary:
// nothing above the store sees an exception. Stateless; safe for concurrent use.
//
//   broken connection, admin shutdown, cannot connect now, class 08 -> UNAVAILABLE
//   serialization failure, deadlock                                -> ABORTED (retryable)
//   statement timeout / query cancelled                            -> DEADLINE_EXCEEDED
//   unique violation                                               -> ALREADY_EXISTS
//   data exception (class 22), check violation                     -> INVALID_ARGUMENT
//   commit outcome unknown (in_doubt)                              -> UNAVAILABLE
//   anything else                                                  -> INTERNAL
#pragma once

#include <exception>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace moe4::coordinator {

// `context` says what was being done ("leasing a job"); it prefixes the message.
absl::Status StatusFromPqxx(const std::exception& e, absl::string_view context);

// True when the status means the connection itself is unusable, so a pool
// should drop it and reconnect.
bool IsConnectionLoss(const std::exception& e);

}  // namespace moe4::coordinator
