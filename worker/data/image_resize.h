// Resamples 8-bit interleaved images (gray or RGB) to a new size with a
// triangle (bilinear) filter whose support widens when shrinking, so that a
// large image is averaged rather than aliased (the behaviour of PIL's and
// torchvision's antialiased bilinear resize). No LibTorch. Stateless; safe
// from any thread.
#ifndef MOE4_WORKER_DATA_IMAGE_RESIZE_H_
#define MOE4_WORKER_DATA_IMAGE_RESIZE_H_

#include <cstdint>
#include <vector>

namespace moe4::worker {

// Resizes `in` (in_height rows of in_width * channels bytes) to out_width x
// out_height into `out` (resized to fit). The aspect ratio is not kept: the
// image is stretched to the requested size.
void ResizeImage(const uint8_t* in, int in_width, int in_height, int channels, int out_width, int out_height,
                 std::vector<uint8_t>* out);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IMAGE_RESIZE_H_
