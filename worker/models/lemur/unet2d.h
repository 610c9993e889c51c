// LEMUR's UNet2D (ab/nn/nn/UNet2D.py; read at waleedkhalid1/nn-dataset-1
// 8d4abaca1f3cdc6be6a8c10b6e0a88f0c6b30462, the index's only stored copy under
// that name; the February-2025 form, inlined verbatim in ABrain-One's
// generated MoE files and in the fork's UNet2D-<uuid> variants, builds the same
// layers). A plain encoder-decoder with no skip connections and no attention,
// pooled to class logits.
//
// Blocks follow LEMUR's `_make_block`, which picks a block by the type name's
// prefix: "DownBlock2D" = 3x3 s2 conv -> ReLU -> 3x3 conv -> ReLU; "UpBlock2D" =
// 2x2 s2 transposed conv -> ReLU -> 3x3 conv -> ReLU; anything else = one 3x3
// conv -> ReLU. Quirk kept: "AttnDownBlock2D" and "AttnUpBlock2D" start with
// "Attn", so both fall to the single-conv case (stride 1, no attention).
// Down: Down(in -> 32), single(32 -> 64), Down(64 -> 128); up: Up(128 -> 128),
// single(128 -> 64), Up(64 -> 32); 1x1 conv to 128 (no activation); mean over
// the map; Dropout(0.2) -> Linear(128, classes). All convs have biases.
// Explicit init ported: Kaiming-normal (fan-out, ReLU) conv and transposed-conv
// weights, zero biases; Xavier-uniform linear weight, zero bias.
//
// Sizes: the two stride-2 convs give ceil(s/2) then ceil(ceil(s/2)/2) and the
// decoder doubles twice; nothing is concatenated, so no side needs to divide
// by a power of two, and any side works. The timestep LEMUR passes (50) is
// unused. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_UNET2D_H_
#define MOE4_WORKER_MODELS_LEMUR_UNET2D_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

class UNet2DImpl : public torch::nn::Module {
 public:
  explicit UNet2DImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList down_blocks_{nullptr};  // Sequential blocks
  torch::nn::ModuleList up_blocks_{nullptr};
  torch::nn::Conv2d final_conv_{nullptr};
  torch::nn::Sequential classifier_{nullptr};  // Dropout -> Linear
};
TORCH_MODULE(UNet2D);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_UNET2D_H_
