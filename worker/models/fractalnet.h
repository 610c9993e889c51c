// FractalNet expert: five fractal blocks of three columns (64/128/256/512/512
// x width), 2x2 max-pools between blocks, GAP, linear. A block with C columns
// is F_1(x) = conv(x), F_C(x) = join(conv(x), F_{C-1}(F_{C-1}(x))), where the
// join is the mean of its inputs and, in training, local drop-path removes
// each input with probability 0.15 (keeping at least one).
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_FRACTALNET_H_
#define MOE4_WORKER_MODELS_FRACTALNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

class FractalPathImpl : public torch::nn::Module {
 public:
  FractalPathImpl(int in, int out, int columns, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double drop_path_;
  ConvBnAct shallow_{nullptr};
  std::shared_ptr<FractalPathImpl> deep_first_;  // null for one column
  std::shared_ptr<FractalPathImpl> deep_second_;
};
TORCH_MODULE(FractalPath);

class FractalNetImpl : public torch::nn::Module {
 public:
  explicit FractalNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(FractalNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_FRACTALNET_H_
