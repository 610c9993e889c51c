// Calls any RPC by its full path ("/moe4.v1.CampaignService/Submit") with raw
// request bytes, whatever its type (unary or server streaming), through
// grpc::GenericStub: the way an attacker's client would, without our stubs'
// help. Header-only; each call owns its completion queue, so concurrent calls
// on one channel are safe.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace moe4::security_testing {

struct RawReply {
  grpc::Status status;
  std::vector<std::string> messages;  // response messages received, serialized
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

inline RawReply RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                        const std::string& request_bytes, const Metadata& metadata,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20),
                        bool wait_for_ready = true) {
  RawReply out;
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  // A previous hostile call may have made the server close the connection
  // (oversized metadata): wait for the channel to reconnect rather than fail.
  ctx.set_wait_for_ready(wait_for_ready);
  grpc::CompletionQueue cq;

  // Every operation is started and then awaited before the next one: the
  // simplest correct use of the async API.
  auto await = [&cq](void* want) {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
      if (tag == want) return ok;
    }
    return false;
  };
  auto call = stub.PrepareCall(&ctx, method, &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  if (await(reinterpret_cast<void*>(1))) {
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    call->Write(request, reinterpret_cast<void*>(2));
    if (await(reinterpret_cast<void*>(2))) {
      call->WritesDone(reinterpret_cast<void*>(3));
      await(reinterpret_cast<void*>(3));
    }
    for (int i = 0; i < 1000; ++i) {
      grpc::ByteBuffer response;
      call->Read(&response, reinterpret_cast<void*>(4));
      if (!await(reinterpret_cast<void*>(4))) break;
      std::vector<grpc::Slice> slices;
      (void)response.Dump(&slices);
      std::string bytes;
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      out.messages.push_back(std::move(bytes));
    }
  }
  call->Finish(&out.status, reinterpret_cast<void*>(5));
  await(reinterpret_cast<void*>(5));
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return out;
}

}  // namespace moe4::security_testing
