// Conversion between absl::Status (used everywhere inside moe4) and
// grpc::Status (used only at the service edge). The codes mirror each other.
// Stateless; safe for concurrent use.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace moe4 {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace moe4
