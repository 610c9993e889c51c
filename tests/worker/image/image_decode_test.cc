// JPEG/PNG decoding: channel rules, scaled JPEG decoding, and refusal of
// corrupt, truncated, CMYK and oversized images.
#include "worker/data/image_decode.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/worker/image/image_test_util.h"
#include "worker/data/image_encode.h"

namespace moe4::worker {
namespace {

using testing::Jpeg;
using testing::Pixels;
using testing::Png;
using testing::PngBomb;

absl::Status Decode(const std::vector<uint8_t>& bytes, DecodedImage* image, DecodeOptions options = {}) {
  return DecodeImage(bytes.data(), bytes.size(), options, image);
}

TEST(ImageDecodeTest, RgbJpegDecodesCloseToItsPixels) {
  const auto pixels = Pixels(24, 16, 3, 1);
  auto bytes = EncodeJpeg(pixels.data(), 24, 16, 3, 100);
  ASSERT_TRUE(bytes.ok());
  DecodedImage image;
  ASSERT_TRUE(Decode(*bytes, &image).ok());
  EXPECT_EQ(image.width, 24);
  EXPECT_EQ(image.height, 16);
  EXPECT_EQ(image.channels, 3);
  ASSERT_EQ(image.pixels.size(), pixels.size());
  double error = 0;
  for (size_t i = 0; i < pixels.size(); ++i) error += std::abs(int{image.pixels[i]} - int{pixels[i]});
  // A smooth-ish pattern at quality 100: a few grey levels off on average.
  EXPECT_LT(error / pixels.size(), 12.0);
}

TEST(ImageDecodeTest, GrayJpegIsOneChannel) {
  DecodedImage image;
  ASSERT_TRUE(Decode(Jpeg(16, 16, 1), &image).ok());
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.pixels.size(), 16u * 16u);
}

TEST(ImageDecodeTest, LargeJpegIsDecodedAtReducedScaleForASmallTarget) {
  DecodedImage image;
  DecodeOptions options;
  options.target_side = 32;
  ASSERT_TRUE(Decode(Jpeg(256, 200, 3), &image, options).ok());
  // 1/4 keeps both sides >= 32 (64 x 50); 1/8 would make the height 25.
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 50);
}

TEST(ImageDecodeTest, PngChannelRules) {
  struct Case {
    int channels;
    int expected;
  };
  for (const Case c : {Case{1, 1}, Case{2, 1}, Case{3, 3}, Case{4, 3}}) {
    DecodedImage image;
    ASSERT_TRUE(Decode(Png(8, 8, c.channels), &image).ok()) << c.channels;
    EXPECT_EQ(image.channels, c.expected) << "PNG with " << c.channels << " channels";
  }
}

TEST(ImageDecodeTest, RgbPngIsExact) {
  const auto pixels = Pixels(9, 7, 3, 5);
  DecodedImage image;
  ASSERT_TRUE(Decode(Png(9, 7, 3, 5), &image).ok());
  EXPECT_EQ(image.pixels, pixels);
}

TEST(ImageDecodeTest, AlphaIsCompositedOntoBlack) {
  // Two RGBA pixels: opaque and fully transparent.
  const std::vector<uint8_t> rgba = {200, 100, 50, 255, 200, 100, 50, 0};
  auto bytes = EncodePng(rgba.data(), 2, 1, 4);
  ASSERT_TRUE(bytes.ok());
  DecodedImage image;
  ASSERT_TRUE(Decode(*bytes, &image).ok());
  ASSERT_EQ(image.channels, 3);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{200, 100, 50, 0, 0, 0}));
}

TEST(ImageDecodeTest, PalettePngIsRgb) {
  const std::vector<uint8_t> palette = {255, 0, 0, 0, 0, 255};
  const std::vector<uint8_t> indices = {0, 1, 1, 0};
  auto bytes = EncodePalettePng(indices.data(), 2, 2, palette);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  DecodedImage image;
  ASSERT_TRUE(Decode(*bytes, &image).ok());
  ASSERT_EQ(image.channels, 3);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0}));
}

TEST(ImageDecodeTest, TruncatedJpegIsRefused) {
  auto bytes = Jpeg(64, 64, 3);
  bytes.resize(bytes.size() / 2);
  DecodedImage image;
  const absl::Status s = Decode(bytes, &image);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("corrupt or truncated JPEG"), std::string::npos) << s;
}

TEST(ImageDecodeTest, GarbageAfterJpegMagicIsRefused) {
  std::vector<uint8_t> bytes = {0xFF, 0xD8, 0xFF};
  for (int i = 0; i < 200; ++i) bytes.push_back(static_cast<uint8_t>(i * 37));
  DecodedImage image;
  const absl::Status s = Decode(bytes, &image);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("JPEG"), std::string::npos) << s;
}

TEST(ImageDecodeTest, CmykJpegIsRefused) {
  auto bytes = EncodeJpeg(Pixels(16, 16, 4, 0).data(), 16, 16, 4, 90);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  DecodedImage image;
  const absl::Status s = Decode(*bytes, &image);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("CMYK JPEG"), std::string::npos) << s;
}

TEST(ImageDecodeTest, PngBombIsRefusedOnItsHeader) {
  const auto bytes = PngBomb(100000, 100000);
  ASSERT_LT(bytes.size(), 200u);
  DecodedImage image;
  const absl::Status s = Decode(bytes, &image);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("100000x100000 = 10000000000 pixels, over the limit of 40000000 (--max-image-pixels)"),
            std::string::npos)
      << s;
  EXPECT_TRUE(image.pixels.empty());
}

TEST(ImageDecodeTest, PixelLimitIsConfigurable) {
  DecodeOptions options;
  options.max_pixels = 100;
  DecodedImage image;
  EXPECT_FALSE(Decode(Png(11, 10, 3), &image, options).ok());
  EXPECT_FALSE(Decode(Jpeg(11, 10, 3), &image, options).ok());
  EXPECT_TRUE(Decode(Png(10, 10, 3), &image, options).ok());
}

TEST(ImageDecodeTest, TruncatedPngIsRefused) {
  auto bytes = Png(64, 64, 3);
  bytes.resize(bytes.size() - 40);
  DecodedImage image;
  const absl::Status s = Decode(bytes, &image);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("PNG"), std::string::npos) << s;
}

TEST(ImageDecodeTest, NonImagesAreRefused) {
  const std::string text = "name,label\ncat.jpg,0\n";
  DecodedImage image;
  const absl::Status s = Decode(std::vector<uint8_t>(text.begin(), text.end()), &image);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a JPEG or PNG image"), std::string::npos) << s;
  EXPECT_FALSE(Decode({}, &image).ok());
}

}  // namespace
}  // namespace moe4::worker
