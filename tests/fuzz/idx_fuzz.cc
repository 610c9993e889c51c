// libFuzzer target: the IDX reader of MNIST / Fashion-MNIST
// (moe4::worker::ReadIdxFile, gzipped or raw). The input is the file.
// Properties beyond "no crash, no sanitizer report": a refusal names the file;
// an accepted tensor is uint8 with 1..4 positive dimensions whose element
// count the file really held (the reader may not conjure data), and the
// reader never allocates more than the data it was given justifies
// (run_fuzz.sh sets -malloc_limit_mb).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "worker/data/idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("idx", 0);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto tensor = moe4::worker::ReadIdxFile(path);
  if (!tensor.ok()) {
    if (tensor.status().message().find(path) == std::string::npos) {
      std::fprintf(stderr, "refusal does not name the file: %s\n",
                   std::string(tensor.status().message()).c_str());
      std::abort();
    }
    return 0;
  }
  if (tensor->scalar_type() != torch::kUInt8 || tensor->dim() < 1 || tensor->dim() > 4) {
    std::abort();
  }
  // A raw file holds header + elements; gzip can expand (at most ~1032x).
  const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const int64_t bound = gz ? static_cast<int64_t>(size) * 1100 : static_cast<int64_t>(size);
  if (tensor->numel() > bound) {
    std::fprintf(stderr, "%lld elements from a %zu-byte file\n",
                 static_cast<long long>(tensor->numel()), size);
    std::abort();
  }
  return 0;
}
