#include "worker/data/image_resize.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker {
namespace {

// For each output coordinate: the first input coordinate it reads and the
// normalised weights of the inputs from there on.
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  // `width` per output coordinate
  int width = 0;
};

Taps ComputeTaps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  // Shrinking by s widens the triangle to s input pixels each side.
  const double support = std::max(scale, 1.0);
  Taps taps;
  taps.width = static_cast<int>(std::ceil(support)) * 2 + 2;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.width, 0.0f);
  for (int o = 0; o < out_size; ++o) {
    const double centre = (o + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(std::floor(centre - support)));
    const int hi = std::min(in_size, static_cast<int>(std::ceil(centre + support)));
    double total = 0;
    float* w = &taps.weights[static_cast<size_t>(o) * taps.width];
    int n = 0;
    for (int i = lo; i < hi && n < taps.width; ++i, ++n) {
      const double x = (i + 0.5 - centre) / support;
      const double weight = std::max(0.0, 1.0 - std::abs(x));
      w[n] = static_cast<float>(weight);
      total += weight;
    }
    if (total <= 0) {  // cannot happen for in_size >= 1; keep the nearest pixel
      w[0] = 1.0f;
      n = std::max(n, 1);
      total = 1;
    }
    for (int k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / total);
    taps.first[o] = lo;
    taps.count[o] = n;
  }
  return taps;
}

}  // namespace

void ResizeImage(const uint8_t* in, int in_width, int in_height, int channels, int out_width, int out_height,
                 std::vector<uint8_t>* out) {
  out->resize(static_cast<size_t>(out_width) * out_height * channels);
  if (in_width == out_width && in_height == out_height) {
    std::copy(in, in + out->size(), out->begin());
    return;
  }
  const Taps horizontal = ComputeTaps(in_width, out_width);
  const Taps vertical = ComputeTaps(in_height, out_height);
  // Horizontal pass into floats (in_height rows of out_width pixels), then
  // the vertical pass rounds to bytes.
  std::vector<float> rows(static_cast<size_t>(in_height) * out_width * channels);
  for (int y = 0; y < in_height; ++y) {
    const uint8_t* src = in + static_cast<size_t>(y) * in_width * channels;
    float* dst = &rows[static_cast<size_t>(y) * out_width * channels];
    for (int x = 0; x < out_width; ++x) {
      const float* w = &horizontal.weights[static_cast<size_t>(x) * horizontal.width];
      const uint8_t* p = src + static_cast<size_t>(horizontal.first[x]) * channels;
      for (int c = 0; c < channels; ++c) {
        float sum = 0;
        for (int k = 0; k < horizontal.count[x]; ++k) sum += w[k] * p[k * channels + c];
        dst[x * channels + c] = sum;
      }
    }
  }
  const size_t row = static_cast<size_t>(out_width) * channels;
  for (int y = 0; y < out_height; ++y) {
    const float* w = &vertical.weights[static_cast<size_t>(y) * vertical.width];
    uint8_t* dst = out->data() + y * row;
    for (size_t i = 0; i < row; ++i) {
      float sum = 0;
      for (int k = 0; k < vertical.count[y]; ++k) sum += w[k] * rows[(vertical.first[y] + k) * row + i];
      dst[i] = static_cast<uint8_t>(std::clamp(std::lround(sum), 0L, 255L));
    }
  }
}

}  // namespace moe4::worker
