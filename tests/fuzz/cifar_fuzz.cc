// libFuzzer target: the CIFAR-10/100 binary reader
// (moe4::worker::ReadCifarFiles). The first input byte picks CIFAR-10
// (1 label byte, 10 classes) or CIFAR-100 (2 label bytes, 100 classes); the
// rest is the file. Properties: a refusal names the file; an accepted dataset
// is [N, 3, 32, 32] uint8 with N records the file held and labels in range.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "worker/data/cifar_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool hundred = data[0] & 1;
  static const int fd = memfd_create("cifar", 0);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, data + 1, size - 1, 0) != static_cast<ssize_t>(size - 1)) {
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const int label_bytes = hundred ? 2 : 1, classes = hundred ? 100 : 10;
  auto d = moe4::worker::ReadCifarFiles({path}, label_bytes, classes, "fuzz");
  if (!d.ok()) {
    if (d.status().message().find(path) == std::string::npos &&
        d.status().message().find("fuzz") == std::string::npos) {
      std::fprintf(stderr, "refusal names nothing: %s\n", std::string(d.status().message()).c_str());
      std::abort();
    }
    return 0;
  }
  const int64_t n = d->images.size(0);
  if (d->images.dim() != 4 || d->images.size(1) != 3 || d->images.size(2) != 32 ||
      d->images.size(3) != 32 || n * (label_bytes + 3072) != static_cast<int64_t>(size - 1) ||
      d->labels.numel() != n || d->labels.min().item<int64_t>() < 0 ||
      d->labels.max().item<int64_t>() >= classes || d->num_classes != classes) {
    std::abort();
  }
  return 0;
}
