#include "worker/data/synthetic.h"

#include <gtest/gtest.h>

#include "worker/data/loader.h"

namespace moe4::worker {
namespace {

TEST(SyntheticTest, ParsesNameOptions) {
  auto o = ParseSyntheticName("synthetic:channels=1,size=28,classes=7,noise=0.3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->channels, 1);
  EXPECT_EQ(o->size, 28);
  EXPECT_EQ(o->classes, 7);
  EXPECT_DOUBLE_EQ(o->noise, 0.3);
  EXPECT_TRUE(ParseSyntheticName("synthetic").ok());
  auto bad = ParseSyntheticName("synthetic:colour=2");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("colour"), std::string::npos);
  EXPECT_FALSE(ParseSyntheticName("synthetic:classes=1000").ok());
}

TEST(SyntheticTest, DeterministicBalancedAndShaped) {
  SyntheticOptions o;
  o.channels = 3;
  o.size = 32;
  o.classes = 10;
  auto a = MakeSynthetic(o, 200, 11, "a");
  auto b = MakeSynthetic(o, 200, 11, "b");
  auto c = MakeSynthetic(o, 200, 12, "c");
  EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{200, 3, 32, 32}));
  EXPECT_EQ(a.images.dtype(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_FALSE(torch::equal(a.images, c.images));
  EXPECT_TRUE(torch::equal(torch::bincount(a.labels), torch::full({10}, 20, torch::kLong)));
  // Not a flat image: the gratings use most of the range.
  EXPECT_GT(a.images.to(torch::kFloat).std().item<double>(), 30.0);
}

TEST(SyntheticTest, LoaderUsesSubsetsAsCountsAndResizeAsSide) {
  moe4::v1::DatasetSpec spec;
  spec.set_name("synthetic:channels=1");
  spec.set_train_subset(64);
  spec.set_test_subset(16);
  spec.set_resize(28);
  auto pair = LoadDataset(spec, "");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.images.sizes(), (std::vector<int64_t>{64, 1, 28, 28}));
  EXPECT_EQ(pair->test.size(), 16);
  // Train and test are different draws.
  EXPECT_FALSE(torch::equal(pair->train.images.slice(0, 0, 16), pair->test.images));
}

TEST(LoaderTest, UnknownDatasetAndMissingDirectoryAreClear) {
  moe4::v1::DatasetSpec spec;
  spec.set_name("imagenet");
  auto r = LoadDataset(spec, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("unknown dataset 'imagenet'"), std::string::npos);
  spec.set_name("cifar10");
  spec.set_path("/nonexistent/cifar");
  r = LoadDataset(spec, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("/nonexistent/cifar"), std::string::npos);
}

TEST(LoaderTest, SubsetIsDeterministicAndOrdered) {
  Dataset d;
  d.images = torch::arange(100, torch::kLong).to(torch::kUInt8).view({100, 1, 1, 1});
  d.labels = torch::arange(100, torch::kLong);
  d.num_classes = 100;
  auto a = TakeSubset(d, 10, 5);
  auto b = TakeSubset(d, 10, 5);
  EXPECT_EQ(a.size(), 10);
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.labels, std::get<0>(a.labels.sort())));
  EXPECT_TRUE(torch::equal(a.images.view({-1}).to(torch::kLong), a.labels));
  EXPECT_EQ(TakeSubset(d, 0, 5).size(), 100);
}

}  // namespace
}  // namespace moe4::worker
