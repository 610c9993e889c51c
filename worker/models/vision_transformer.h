// VisionTransformer expert, ViT-Ti (DeiT-Tiny) config at width 1.0: patch
// embedding (a p x p stride-p conv), a learned class token and position
// embedding, twelve pre-norm encoder blocks (192-dim, 3 heads of 64, MLP 4x,
// dropout 0.1 as in the original ViT), final LayerNorm, linear head on the
// class token. The ViT-B/16 ImageNet size (86M) is out of proportion for
// 28-64 px inputs; ViT-Ti is the usual small-image reference.
//
// Patch size (divide, else pad): p is the divisor of the image side closest to
// side / 8 (an ~8x8 token grid: 4 for 28 and 32, 5 for 40) among those giving
// a 4..16 grid; when no divisor qualifies (e.g. a prime side such as 29) p is
// ceil(side / 8) and the input is zero-padded bottom/right to a multiple of p.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_VISION_TRANSFORMER_H_
#define MOE4_WORKER_MODELS_VISION_TRANSFORMER_H_

#include <torch/torch.h>

#include <utility>

#include "worker/models/attention.h"
#include "worker/models/expert_options.h"

namespace moe4::worker {

// x + MHSA(LN(x)); x + MLP(LN(x)).
class ViTEncoderBlockImpl : public torch::nn::Module {
 public:
  ViTEncoderBlockImpl(int dim, int heads, int mlp_hidden, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm norm1_{nullptr};
  MultiHeadSelfAttention attention_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  TransformerMlp mlp_{nullptr};
};
TORCH_MODULE(ViTEncoderBlock);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  int patch_size() const { return patch_; }
  // Bottom/right zero padding applied to the input (0 when p divides it).
  int padding() const { return pad_; }

 private:
  int patch_;
  int pad_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor class_token_;
  torch::Tensor position_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(VisionTransformer);

// The patch side rule above, exposed for tests: {patch, padding}.
std::pair<int, int> VisionTransformerPatch(int image_size);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_VISION_TRANSFORMER_H_
