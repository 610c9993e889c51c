// Readers for the CIFAR-10 and CIFAR-100 binary releases. Stateless functions;
// safe from any thread.
#ifndef MOE4_WORKER_DATA_CIFAR_READER_H_
#define MOE4_WORKER_DATA_CIFAR_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace moe4::worker {

// Reads records of `label_bytes` label bytes + 3072 pixel bytes (3x32x32,
// channel-planar) from each file; the last label byte is the class (CIFAR-100
// stores coarse then fine). Errors name the file and what is wrong.
absl::StatusOr<Dataset> ReadCifarFiles(const std::vector<std::string>& paths, int label_bytes, int num_classes,
                                       const std::string& name);

// CIFAR-10: data_batch_{1..5}.bin + test_batch.bin in `dir` or in
// `dir`/cifar-10-batches-bin.
absl::StatusOr<DatasetPair> LoadCifar10(const std::string& dir);

// CIFAR-100 (fine labels): train.bin + test.bin in `dir` or in
// `dir`/cifar-100-binary.
absl::StatusOr<DatasetPair> LoadCifar100(const std::string& dir);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_CIFAR_READER_H_
