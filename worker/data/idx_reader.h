// Readers for the IDX format of MNIST and Fashion-MNIST, gzipped or raw (zlib
// reads both transparently). Stateless functions; safe from any thread.
#ifndef MOE4_WORKER_DATA_IDX_READER_H_
#define MOE4_WORKER_DATA_IDX_READER_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace moe4::worker {

// Reads one IDX file of unsigned bytes (type 0x08) into a uint8 tensor with
// the file's dimensions. Errors name the file and what is wrong with it.
absl::StatusOr<torch::Tensor> ReadIdxFile(const std::string& path);

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir` as a
// 10-class dataset named `name` (e.g. "fashion-mnist").
absl::StatusOr<DatasetPair> LoadIdxDataset(const std::string& dir, const std::string& name);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IDX_READER_H_
