// The antialiased bilinear resize of interleaved uint8 images.
#include "worker/data/image_resize.h"

#include <gtest/gtest.h>

#include <vector>

namespace moe4::worker {
namespace {

TEST(ImageResizeTest, ConstantImageStaysConstant) {
  const std::vector<uint8_t> in(37 * 23 * 3, 90);
  std::vector<uint8_t> out;
  for (const auto& [w, h] : {std::pair{8, 8}, std::pair{64, 50}, std::pair{37, 5}}) {
    ResizeImage(in.data(), 37, 23, 3, w, h, &out);
    ASSERT_EQ(out.size(), static_cast<size_t>(w) * h * 3);
    for (uint8_t v : out) ASSERT_EQ(v, 90) << w << "x" << h;
  }
}

TEST(ImageResizeTest, SameSizeIsACopy) {
  std::vector<uint8_t> in(5 * 4);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 11);
  std::vector<uint8_t> out;
  ResizeImage(in.data(), 5, 4, 1, 5, 4, &out);
  EXPECT_EQ(out, in);
}

TEST(ImageResizeTest, ShrinkingAveragesInsteadOfAliasing) {
  // A one-pixel checkerboard of 0 and 255: nearest-neighbour or plain
  // bilinear sampling at 1/8 would pick 0s or 255s; an antialiased filter
  // gives mid-grey everywhere.
  const int n = 64;
  std::vector<uint8_t> in(n * n);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) in[y * n + x] = ((x + y) % 2) ? 255 : 0;
  }
  std::vector<uint8_t> out;
  ResizeImage(in.data(), n, n, 1, 8, 8, &out);
  for (uint8_t v : out) EXPECT_NEAR(v, 128, 12);
}

TEST(ImageResizeTest, ChannelsStayApart) {
  std::vector<uint8_t> in(16 * 16 * 3);
  for (size_t i = 0; i < in.size(); i += 3) {
    in[i] = 250;
    in[i + 1] = 10;
    in[i + 2] = 120;
  }
  std::vector<uint8_t> out;
  ResizeImage(in.data(), 16, 16, 3, 5, 7, &out);
  for (size_t i = 0; i < out.size(); i += 3) {
    ASSERT_EQ(out[i], 250);
    ASSERT_EQ(out[i + 1], 10);
    ASSERT_EQ(out[i + 2], 120);
  }
}

}  // namespace
}  // namespace moe4::worker
