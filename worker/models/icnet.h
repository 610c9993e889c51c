// ICNet expert, adapted from the segmentation network to classification as
// the catalogue defines it: the high-resolution branch's three stride-2 3x3
// conv-BN-ReLU layers (64/128/256 at width 1.0), two dilated 3x3 residual
// units that widen the receptive field at 1/8 resolution (ICNet's dilated
// backbone, in miniature), the pyramid pooling module (average pools to 1x1,
// 2x2, 3x3 and 6x6 bins, each 1x1 conv-BN-ReLU to a quarter of the channels
// and bilinearly upsampled back, concatenated with the input), a 3x3 fusion
// conv, then global average pooling, dropout 0.1 and a linear classifier.
//
// Small inputs: a DownsamplePlan keeps at most floor(log2(side / 2)) of the
// three stride-2 convs (all three from 16x16 up). A 6x6 bin on a smaller map
// is adaptive pooling to more cells than pixels, which repeats pixels; valid.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_ICNET_H_
#define MOE4_WORKER_MODELS_ICNET_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// Concat(x, upsample(conv1x1(avg_pool_bin(x))) for each bin).
class PyramidPoolingImpl : public torch::nn::Module {
 public:
  PyramidPoolingImpl(int in, const std::vector<int>& bins);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  std::vector<int> bins_;
  std::vector<ConvBnAct> reduce_;
  int out_channels_;
};
TORCH_MODULE(PyramidPooling);

class ICNetImpl : public torch::nn::Module {
 public:
  explicit ICNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential downsample_{nullptr};
  std::vector<torch::nn::Sequential> dilated_;
  PyramidPooling pyramid_{nullptr};
  ConvBnAct fuse_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ICNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_ICNET_H_
