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

// The validation split: stratified (the same share of every class), seeded
// by the campaign (the same images for every job), disjoint from what the
// optimiser sees, and refused when a class would be left without images.
TEST(LoaderTest, HoldsOutAStratifiedSeededValidationSplit) {
  moe4::v1::DatasetSpec spec;
  spec.set_name("synthetic:channels=1,size=16,classes=10");
  spec.set_train_subset(200);
  spec.set_test_subset(20);
  spec.set_validation_fraction(0.1);
  spec.set_split_seed(9);
  auto a = LoadDataset(spec, "");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->train.size(), 180);
  EXPECT_EQ(a->validation.size(), 20);
  EXPECT_EQ(a->test.size(), 20);
  EXPECT_TRUE(torch::equal(torch::bincount(a->validation.labels, {}, 10), torch::full({10}, 2, torch::kLong)));
  EXPECT_TRUE(torch::equal(torch::bincount(a->train.labels, {}, 10), torch::full({10}, 18, torch::kLong)));
  auto again = LoadDataset(spec, "");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(torch::equal(a->validation.images, again->validation.images));
  spec.set_split_seed(10);
  auto other = LoadDataset(spec, "");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(torch::equal(a->validation.images, other->validation.images));
  // Disjoint and complete: the whole set split, nothing held out twice.
  spec.set_validation_fraction(0);
  auto whole = LoadDataset(spec, "");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->validation.size(), 0);
  EXPECT_EQ(whole->train.size(), 200);
  const auto sum = [](const torch::Tensor& images) { return images.to(torch::kLong).sum().item<int64_t>(); };
  EXPECT_EQ(sum(a->train.images) + sum(a->validation.images), sum(whole->train.images));
}

TEST(LoaderTest, ValidationSplitThatEmptiesAClassIsABadSpec) {
  moe4::v1::DatasetSpec spec;
  spec.set_name("synthetic:channels=1,size=16,classes=10");
  spec.set_train_subset(40);  // 4 per class: 10 % of 4 rounds to none
  spec.set_validation_fraction(0.1);
  auto r = LoadDataset(spec, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);  // the agent does not retry it
  EXPECT_NE(std::string(r.status().message())
                .find("dataset.validation_fraction: 0.1 of class 0's 4 training images in synthetic/train leaves the "
                      "class without validation images"),
            std::string::npos)
      << r.status();
  spec.set_train_subset(10);  // one per class: half of one leaves none to train on
  spec.set_validation_fraction(0.5);
  r = LoadDataset(spec, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("without training images"), std::string::npos) << r.status();
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
