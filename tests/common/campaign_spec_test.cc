#include "common/campaign_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/yaml_keys.h"
#include <yaml-cpp/yaml.h>

namespace moe4 {
namespace {

constexpr const char* kValid = R"(name: fashion-moe4
families: [AirNet, AlexNet, BagNet, DenseNet, ShuffleNet]
k: 3
sampler: stratified
budget: 6
seed: 7
catalogue: adapted
dataset: {name: fashion-mnist, train_subset: 4000, test_subset: 1000}
recipe:
  epochs: 2
  lr: 0.002
  width: 0.25
)";

TEST(CampaignSpecTest, ParsesAndResolvesDefaults) {
  auto spec = ParseCampaignSpec(kValid);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "fashion-moe4");
  EXPECT_EQ(spec->pool, (std::vector<std::string>{"AirNet", "AlexNet", "BagNet", "DenseNet", "ShuffleNet"}));
  EXPECT_EQ(spec->k, 3);
  EXPECT_EQ(spec->budget, 6u);
  EXPECT_EQ(spec->seed, 7u);
  EXPECT_EQ(spec->sampler, SamplerKind::kStratified);
  EXPECT_EQ(spec->dataset.name(), "fashion-mnist");
  EXPECT_EQ(spec->dataset.train_subset(), 4000);
  EXPECT_EQ(spec->recipe.epochs(), 2);
  EXPECT_DOUBLE_EQ(spec->recipe.lr(), 0.002);
  EXPECT_DOUBLE_EQ(spec->recipe.width(), 0.25);
  // Design defaults for what the spec leaves out.
  EXPECT_DOUBLE_EQ(spec->recipe.label_smoothing(), 0.1);
  EXPECT_DOUBLE_EQ(spec->recipe.mixup_alpha(), 0.2);
  EXPECT_DOUBLE_EQ(spec->recipe.load_balance_weight(), 0.01);
  EXPECT_DOUBLE_EQ(spec->recipe.gate_temperature(), 2.0);
  EXPECT_DOUBLE_EQ(spec->recipe.gate_lr_scale(), 2.0);
  EXPECT_DOUBLE_EQ(spec->recipe.weight_decay(), 5e-4);
  EXPECT_EQ(spec->recipe.batch_size(), 128);
  EXPECT_EQ(spec->max_attempts, 3);
  // Warm-up (5 by design) is shortened to leave the last epoch to the cosine.
  EXPECT_EQ(spec->recipe.warmup_epochs(), 1);
}

TEST(CampaignSpecTest, CatalogueDefaultsToLemurAndTravelsInTheRecipe) {
  auto lemur = ParseCampaignSpec("name: c\nfamilies: [DPN68, ResNet]\nk: 2\nbudget: 1\ndataset: {name: cifar10}\n");
  ASSERT_TRUE(lemur.ok()) << lemur.status();
  EXPECT_EQ(lemur->catalogue, Catalogue::kLemur);
  EXPECT_EQ(lemur->recipe.catalogue(), moe4::v1::EXPERT_CATALOGUE_LEMUR);
  auto adapted = ParseCampaignSpec(kValid);
  ASSERT_TRUE(adapted.ok()) << adapted.status();
  EXPECT_EQ(adapted->catalogue, Catalogue::kAdapted);
  EXPECT_EQ(adapted->recipe.catalogue(), moe4::v1::EXPERT_CATALOGUE_ADAPTED);
  // Stored campaigns from before catalogues carry UNSPECIFIED: adapted.
  EXPECT_EQ(FromProto(moe4::v1::EXPERT_CATALOGUE_UNSPECIFIED), Catalogue::kAdapted);
}

TEST(CampaignSpecTest, PrecisionDefaultsToAutoAndTravelsInTheRecipe) {
  auto automatic = ParseCampaignSpec(kValid);
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  EXPECT_EQ(automatic->recipe.precision(), moe4::v1::PRECISION_AUTO);
  for (const auto& [text, value] : std::vector<std::pair<std::string, moe4::v1::Precision>>{
           {"fp32", moe4::v1::PRECISION_FP32}, {"bf16", moe4::v1::PRECISION_BF16}, {"fp16", moe4::v1::PRECISION_FP16}}) {
    auto spec = ParseCampaignSpec("name: c\nk: 2\nbudget: 1\ncatalogue: adapted\nrecipe: {precision: " + text + "}\n");
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    EXPECT_EQ(spec->recipe.precision(), value) << text;
    // fp16 needs a GPU: its jobs are routed to CUDA workers only.
    EXPECT_EQ(spec->requirements.device_kind(), value == moe4::v1::PRECISION_FP16 ? "cuda" : "") << text;
  }
  auto cpu_fp16 = ParseCampaignSpec(
      "name: c\nk: 2\nbudget: 1\ncatalogue: adapted\nrecipe: {precision: fp16}\nrequirements: {device_kind: cpu}\n");
  ASSERT_FALSE(cpu_fp16.ok());
  EXPECT_NE(cpu_fp16.status().message().find("recipe.precision: fp16 runs only on a GPU, but requirements.device_kind is \"cpu\""),
            std::string::npos)
      << cpu_fp16.status();
}

TEST(CampaignSpecTest, RefusesAnUnknownCatalogue) {
  auto spec = ParseCampaignSpec("name: c\nk: 2\nbudget: 1\ncatalogue: torchvision\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("line 4: catalogue: unknown catalogue \"torchvision\" (expected lemur or adapted)"),
            std::string::npos)
      << spec.status();
}

// LEMUR's AlexNet cannot take 28x28 (its maps shrink to nothing): the lemur
// catalogue refuses it on Fashion-MNIST, naming the family, the size and a
// resize that works for the pool; the resize, or the adapted catalogue, passes.
TEST(CampaignSpecTest, LemurRefusesInputsSmallerThanAFamilyAccepts) {
  const std::string base = "name: c\nfamilies: [AlexNet, ResNet]\nk: 2\nbudget: 1\n";
  auto small = ParseCampaignSpec(base + "dataset: {name: fashion-mnist}\n");
  ASSERT_FALSE(small.ok());
  const std::string message(small.status().message());
  const int alexnet = MinimumImageSize(Catalogue::kLemur, "AlexNet");
  ASSERT_GT(alexnet, 28);
  EXPECT_NE(message.find(absl::StrCat("line 5: dataset: catalogue lemur: AlexNet needs inputs of at least ", alexnet,
                                      "x", alexnet, " pixels; dataset \"fashion-mnist\" gives 28x28 (set "
                                      "dataset.resize: ", alexnet)),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("ResNet"), std::string::npos) << "ResNet takes 28x28: " << message;
  auto resized = ParseCampaignSpec(base + "dataset: {name: fashion-mnist, resize: " + std::to_string(alexnet) + "}\n");
  EXPECT_TRUE(resized.ok()) << resized.status();
  auto adapted = ParseCampaignSpec(base + "catalogue: adapted\ndataset: {name: fashion-mnist}\n");
  EXPECT_TRUE(adapted.ok()) << adapted.status();
}

// LEMUR's BayesianNet-1 takes only 31..38 pixels: above that it is refused,
// and next to AlexNet (63 and up) no size fits, which the message says.
TEST(CampaignSpecTest, LemurRefusesInputsLargerThanAFamilyAccepts) {
  auto large = ParseCampaignSpec("name: c\nfamilies: [BayesianNet-1, ResNet]\nk: 2\nbudget: 1\n"
                                 "dataset: {name: cifar10, resize: 64}\n");
  ASSERT_FALSE(large.ok());
  EXPECT_NE(large.status().message().find(
                "catalogue lemur: BayesianNet-1 accepts inputs of at most 38x38 pixels (LEMUR sizes its classifier "
                "for one input size); dataset \"cifar10\" resized gives 64x64 (set dataset.resize: between 31 and 38 "
                "for this pool, or catalogue: adapted)"),
            std::string::npos)
      << large.status();
  auto clash = ParseCampaignSpec("name: c\nfamilies: [AlexNet, BayesianNet-1]\nk: 2\nbudget: 1\n"
                                 "dataset: {name: cifar10}\n");
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("no single size fits this pool: AlexNet needs at least 63, BayesianNet-1 at "
                                          "most 38; exclude one of them, or catalogue: adapted"),
            std::string::npos)
      << clash.status();
  EXPECT_TRUE(ParseCampaignSpec("name: c\nfamilies: [BayesianNet-1, ResNet]\nk: 2\nbudget: 1\n"
                                "dataset: {name: cifar10}\n")
                  .ok());
}

TEST(CampaignSpecTest, InputImageSizeFollowsResizeThenTheDataset) {
  moe4::v1::DatasetSpec d;
  d.set_name("fashion-mnist");
  EXPECT_EQ(InputImageSize(d), 28);
  d.set_name("cifar100");
  EXPECT_EQ(InputImageSize(d), 32);
  d.set_name("synthetic:channels=1,size=48,classes=4");
  EXPECT_EQ(InputImageSize(d), 48);
  d.set_name("synthetic");
  EXPECT_EQ(InputImageSize(d), 32);
  d.set_resize(96);
  EXPECT_EQ(InputImageSize(d), 96);
}

TEST(CampaignSpecTest, DefaultPoolIsTheCatalogueAndExcludeRemoves) {
  auto spec = ParseCampaignSpec("name: all\nk: 4\nbudget: 10\nexclude: [VGG, AlexNet]\ncatalogue: adapted\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->pool.size(), 27u);
  EXPECT_EQ(std::find(spec->pool.begin(), spec->pool.end(), "VGG"), spec->pool.end());
  EXPECT_TRUE(std::is_sorted(spec->pool.begin(), spec->pool.end()));
}

TEST(CampaignSpecTest, AcceptsSyntheticOptions) {
  auto spec = ParseCampaignSpec(
      "name: s\nk: 2\nbudget: 1\ncatalogue: adapted\ndataset: {name: \"synthetic:channels=1,size=28,classes=4\"}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->dataset.name(), "synthetic:channels=1,size=28,classes=4");
}

TEST(CampaignSpecTest, ExhaustiveResolvesTheBudget) {
  auto spec = ParseCampaignSpec(
      "name: ex\nfamilies: [AirNet, AlexNet, BagNet, VGG]\nk: 2\nsampler: exhaustive\ncatalogue: adapted\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->budget, 6u);
}

struct BadSpec {
  std::string yaml;
  std::string expected;  // substring of the error
};

class CampaignSpecErrorTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(CampaignSpecErrorTest, NamesFieldAndReason) {
  auto spec = ParseCampaignSpec(GetParam().yaml);
  ASSERT_FALSE(spec.ok()) << "accepted: " << GetParam().yaml;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(GetParam().expected), std::string::npos)
      << "error was: " << spec.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, CampaignSpecErrorTest,
    ::testing::Values(
        BadSpec{"name: x\nk: 2\nbudget: 1\nfamilies: [AirNet, AlexNet, BagNet, Resnet]\n",
                "line 4: families[3]: unknown family \"Resnet\" (did you mean \"ResNet\"?)"},
        BadSpec{"name: x\nk: 2\nbudget: 1\nfamilies: [AirNet, AlexNet, AirNet]\n",
                "families[2]: duplicate family \"AirNet\" (also families[0])"},
        BadSpec{"name: x\nk: 5\nbudget: 1\nfamilies: [AirNet, AlexNet, BagNet]\n",
                "k: 5 is larger than the pool (3 families)"},
        BadSpec{"name: x\nk: 0\nbudget: 1\n", "k: 0 is out of range [1, 8]"},
        BadSpec{"name: x\nk: 4\nbudget: 30000\n", "budget: 30000 exceeds C(29,4) = 23751 combinations"},
        BadSpec{"name: x\nk: 4\nbudget: 0\n", "budget: 0 is out of range"},
        BadSpec{"name: x\nk: 4\n", "budget: required"},
        BadSpec{"k: 4\nbudget: 3\n", "name: required"},
        BadSpec{"name: \"bad name; DROP TABLE jobs\"\nk: 4\nbudget: 3\n", "name: \"bad name; DROP TABLE jobs\" must be"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nsampler: random\n", "sampler: unknown sampler \"random\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {epochs: -1}\n", "recipe.epochs: -1 is out of range"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {lr: fast}\n", "recipe.lr: expected a finite number, got \"fast\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {lr: 0}\n", "recipe.lr: 0 is out of range (0, 10]"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {epochs: 2.5}\n", "recipe.epochs: expected an integer"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {learning_rate: 0.1}\n", "recipe.learning_rate: unknown field"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nbugdet: 3\n", "bugdet: unknown field (did you mean \"budget\"?)"},
        BadSpec{"name: x\nk: 4\nbudget: 3\ndataset: {name: imagenet}\n", "dataset.name: unknown dataset \"imagenet\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\ndataset: {name: \"synthetic:colors=3\"}\n",
                "dataset.name: synthetic option \"colors\" is unknown"},
        BadSpec{"name: x\nk: 4\nbudget: 3\ndataset: {name: \"synthetic:size=4\"}\n",
                "dataset.name: synthetic option size=\"4\" must be a number in [8, 256]"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {gate_temperature: 9}\n", "recipe.gate_temperature: 9 is out of range"},
        BadSpec{"name: x\nk: 2\nbudget: 3\nrecipe: {gate_top_k: 3}\n", "recipe.gate_top_k: 3 is larger than k (2)"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {precision: half}\n",
                "line 4: recipe.precision: expected fp32, bf16, fp16 or auto, got \"half\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\nsampler: exhaustive\n", "budget: the exhaustive sampler runs all"},
        BadSpec{"name: x\nk: 4\nbudget: [1, 2]\n", "budget: expected an integer, got a list"},
        BadSpec{"[1, 2, 3]\n", "spec: expected a mapping"},
        BadSpec{"name: x\nk: {\n", "not valid YAML"}));

TEST(CampaignSpecTest, ReportsEveryProblemAtOnce) {
  auto spec = ParseCampaignSpec("name: x\nk: 4\nbudget: 3\nrecipe: {lr: -1, epochs: 0}\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("recipe.lr"), std::string::npos);
  EXPECT_NE(spec.status().message().find("recipe.epochs"), std::string::npos);
}

// Found by the spec fuzzer: yaml-cpp reads "0.\r\r\r" as the number 0, and
// the out-of-range message echoed the text with its carriage returns, which
// rewrite a terminal line. Every refusal must be printable.
TEST(CampaignSpecTest, OutOfRangeNumbersAreEchoedPrintably) {
  auto spec = ParseCampaignSpec("name: x\nk: 4\nbudget: 3\nrecipe: {width: \"0.\\r\\r\\r\"}\n");
  ASSERT_FALSE(spec.ok());
  const std::string message(spec.status().message());
  EXPECT_NE(message.find("recipe.width"), std::string::npos) << message;
  for (unsigned char c : message) {
    EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << "raw byte " << int{c} << " in: " << message;
  }
}

TEST(CampaignSpecTest, RefusesOversizedSpecsAndBudgetsOverTheCap) {
  SpecLimits limits;
  limits.max_budget = 5;
  auto over_cap = ParseCampaignSpec("name: x\nk: 4\nbudget: 6\n", limits);
  ASSERT_FALSE(over_cap.ok());
  EXPECT_NE(over_cap.status().message().find("above this coordinator's limit of 5"), std::string::npos);
  const std::string huge = "name: x\nk: 4\nbudget: 3\n#" + std::string(300 * 1024, 'a') + "\n";
  auto too_big = ParseCampaignSpec(huge);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("larger than the limit"), std::string::npos);
}

TEST(CampaignSpecTest, JobSeedsDifferPerRankAndAreStable) {
  EXPECT_EQ(JobSeed(1, 2), JobSeed(1, 2));
  EXPECT_NE(JobSeed(1, 2), JobSeed(1, 3));
  EXPECT_NE(JobSeed(1, 2), JobSeed(2, 2));
}

TEST(CampaignSpecTest, FamiliesOfRankFollowThePool) {
  auto spec = ParseCampaignSpec("name: x\nfamilies: [VGG, AirNet, BagNet]\nk: 2\nbudget: 3\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(FamiliesOfRank(*spec, 0), (std::vector<std::string>{"AirNet", "BagNet"}));
  EXPECT_EQ(FamiliesOfRank(*spec, 2), (std::vector<std::string>{"BagNet", "VGG"}));
}

// --- validation split and selection -------------------------------------------

constexpr const char* kSmall = "name: x\nk: 2\nbudget: 1\ncatalogue: adapted\nfamilies: [AirNet, AlexNet]\n";

TEST(CampaignSpecTest, ValidationSplitDefaultsAndTravelsWithTheCampaignSeed) {
  auto spec = ParseCampaignSpec(kValid);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->selection, Selection::kBestValidation);
  EXPECT_DOUBLE_EQ(spec->dataset.validation_fraction(), 0.1);
  // Every job of the campaign holds out the same images: the split is seeded
  // by the campaign seed, not the job's.
  EXPECT_EQ(spec->dataset.split_seed(), 7u);
  EXPECT_EQ(spec->replicates, 1);

  auto chosen = ParseCampaignSpec(std::string(kSmall) + "dataset: {name: mnist, validation_fraction: 0.25}\n");
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_DOUBLE_EQ(chosen->dataset.validation_fraction(), 0.25);

  // No split only with selection: final, said explicitly.
  auto final_only = ParseCampaignSpec(std::string(kSmall) +
                                      "selection: final\ndataset: {name: mnist, validation_fraction: 0}\n");
  ASSERT_TRUE(final_only.ok()) << final_only.status();
  EXPECT_EQ(final_only->selection, Selection::kFinal);
  EXPECT_DOUBLE_EQ(final_only->dataset.validation_fraction(), 0);
  EXPECT_EQ(SelectionName(Selection::kFinal), "final");
  EXPECT_EQ(SelectionName(Selection::kBestValidation), "best_validation");
}

INSTANTIATE_TEST_SUITE_P(
    ValidationAndReplicates, CampaignSpecErrorTest,
    ::testing::Values(
        BadSpec{std::string(kSmall) + "dataset: {name: mnist, validation_fraction: 0.6}\n",
                "line 6: dataset.validation_fraction: 0.6 is out of range [0, 0.5]"},
        BadSpec{std::string(kSmall) + "dataset: {name: mnist, validation_fraction: -0.1}\n",
                "dataset.validation_fraction: -0.1 is out of range [0, 0.5]"},
        BadSpec{std::string(kSmall) + "dataset: {name: mnist, validation_fraction: some}\n",
                "dataset.validation_fraction: expected a finite number"},
        BadSpec{std::string(kSmall) + "dataset: {name: mnist, validation_fraction: 0}\n",
                "line 6: dataset.validation_fraction: 0 leaves no validation images to select the epoch by; add "
                "selection: final"},
        BadSpec{std::string(kSmall) + "selection: final\ndataset: {name: mnist}\n",
                "line 6: selection: final reports the last epoch and uses no validation split, but "
                "dataset.validation_fraction is 0.1 (the default)"},
        BadSpec{std::string(kSmall) + "selection: final\ndataset: {name: mnist, validation_fraction: 0.2}\n",
                "dataset.validation_fraction is 0.2; set dataset.validation_fraction: 0"},
        BadSpec{std::string(kSmall) + "selection: best\n",
                "line 6: selection: unknown selection \"best\" (expected best_validation or final)"},
        // 40 images over 10 classes: 4 per class, and 10 % of 4 rounds to none.
        BadSpec{std::string(kSmall) + "dataset: {name: \"synthetic:classes=4\", train_subset: 4, "
                                      "validation_fraction: 0.5}\n",
                "dataset.validation_fraction: 0.5 of about 1 training image per class leaves a class without "
                "training images; use at least 2"},
        BadSpec{std::string(kSmall) + "replicates: 0\n", "line 6: replicates: 0 is out of range [1, 10]"},
        BadSpec{std::string(kSmall) + "replicates: 11\n", "replicates: 11 is out of range [1, 10]"},
        BadSpec{std::string(kSmall) + "replicates: three\n", "replicates: expected an integer"},
        BadSpec{std::string(kSmall) + "refill: sometimes\n",
                "line 6: refill: expected true or false, got \"sometimes\""}));

TEST(CampaignSpecTest, RefillDefaultsOnAndCanBeTurnedOff) {
  auto on = ParseCampaignSpec(kSmall);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->refill);
  auto off = ParseCampaignSpec(std::string(kSmall) + "refill: false\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->refill);
}

TEST(CampaignSpecTest, ValidationSplitThatEmptiesAClassNamesTheFieldAndLine) {
  auto spec = ParseCampaignSpec(std::string(kSmall) + "dataset: {name: fashion-mnist, train_subset: 40}\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find(
                "line 6: dataset.validation_fraction: 0.1 of about 4 training images per class leaves a class without validation images; "
                "use at least 5 training images per class (dataset.train_subset) or a larger validation_fraction"),
            std::string::npos)
      << spec.status();
  // Enough images per class, or a larger fraction, passes.
  EXPECT_TRUE(ParseCampaignSpec(std::string(kSmall) + "dataset: {name: fashion-mnist, train_subset: 50}\n").ok());
  EXPECT_TRUE(ParseCampaignSpec(std::string(kSmall) +
                                "dataset: {name: fashion-mnist, train_subset: 40, validation_fraction: 0.2}\n")
                  .ok());
}

TEST(CampaignSpecTest, ValidationImagesPerClassRoundAndEstimatesKnowTheDatasets) {
  EXPECT_EQ(ValidationImagesOfClass(0.1, 4), 0);
  EXPECT_EQ(ValidationImagesOfClass(0.1, 5), 1);
  EXPECT_EQ(ValidationImagesOfClass(0.1, 6000), 600);
  EXPECT_EQ(ValidationImagesOfClass(0, 6000), 0);
  moe4::v1::DatasetSpec d;
  d.set_name("fashion-mnist");
  EXPECT_EQ(EstimatedTrainingImagesPerClass(d), 6000);
  d.set_train_subset(4000);
  EXPECT_EQ(EstimatedTrainingImagesPerClass(d), 400);
  d.set_name("cifar100");
  d.set_train_subset(0);
  EXPECT_EQ(EstimatedTrainingImagesPerClass(d), 500);
  d.set_name("synthetic:channels=1,classes=4");
  d.set_train_subset(300);
  EXPECT_EQ(EstimatedTrainingImagesPerClass(d), 75);
}

// --- replicates -------------------------------------------------------------------

TEST(CampaignSpecTest, ReplicatesMultiplyTheJobsUnderTheCap) {
  auto spec = ParseCampaignSpec(std::string(kSmall) + "replicates: 3\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->replicates, 3);
  SpecLimits limits;
  limits.max_budget = 5;  // jobs: budget 2 x 3 replicates = 6 is over
  auto over = ParseCampaignSpec(
      "name: x\nk: 2\nbudget: 2\nreplicates: 3\ncatalogue: adapted\nfamilies: [AirNet, AlexNet, BagNet]\n", limits);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find(
                "budget: 2 is above this coordinator's limit of 1 combinations at 3 replicates (5 jobs)"),
            std::string::npos)
      << over.status();
}

TEST(CampaignSpecTest, ReplicatesGetIndependentStableSeeds) {
  // Replicate 0 keeps the seed a campaign without replicates had.
  EXPECT_EQ(ReplicateSeed(7, 3, 0), JobSeed(7, 3));
  EXPECT_EQ(ReplicateSeed(7, 3, 1), ReplicateSeed(7, 3, 1));
  EXPECT_NE(ReplicateSeed(7, 3, 1), ReplicateSeed(7, 3, 0));
  EXPECT_NE(ReplicateSeed(7, 3, 1), ReplicateSeed(7, 3, 2));
  EXPECT_NE(ReplicateSeed(7, 3, 1), ReplicateSeed(7, 4, 1));
  // Not another combination's replicate 0 either.
  for (uint64_t rank = 0; rank < 1000; ++rank) ASSERT_NE(ReplicateSeed(7, 3, 1), JobSeed(7, rank));
}

TEST(CampaignSpecTest, DuplicateKeysAreErrorsWithBothLines) {
  struct Case {
    std::string yaml;
    std::string expect;
  } cases[] = {
      {"name: a\nk: 2\nbudget: 1\nname: b\n", "line 4: name: duplicate key (lines 1 and 4)"},
      {"name: a\nk: 2\nbudget: 1\nrecipe:\n  lr: 0.1\n  epochs: 2\n  lr: 0.2\n",
       "line 7: recipe.lr: duplicate key (lines 5 and 7)"},
      {"name: a\nk: 2\nbudget: 1\ndataset: {name: mnist, name: cifar10}\n",
       "line 4: dataset.name: duplicate key (twice on line 4)"},
  };
  for (const auto& c : cases) {
    auto spec = ParseCampaignSpec(c.yaml);
    ASSERT_FALSE(spec.ok()) << c.yaml;
    EXPECT_NE(std::string(spec.status().message()).find(c.expect), std::string::npos) << spec.status();
  }
  // Every repetition is reported, not just the first.
  auto spec = ParseCampaignSpec("name: a\nk: 2\nk: 3\nbudget: 1\nbudget: 2\n");
  ASSERT_FALSE(spec.ok());
  const std::string message(spec.status().message());
  EXPECT_NE(message.find("k: duplicate key (lines 2 and 3)"), std::string::npos) << message;
  EXPECT_NE(message.find("budget: duplicate key (lines 4 and 5)"), std::string::npos) << message;
  // The same key in two different mappings is fine.
  EXPECT_TRUE(ParseCampaignSpec(std::string(kValid) + "requirements: {device_kind: cpu}\n").ok());
}

TEST(CampaignSpecTest, DuplicateKeyWalkSurvivesNestedAliases) {
  // Ten levels of ten aliases: walking every path would visit 10^10 nodes.
  std::string yaml = "a0: &a0 {x: 1}\n";
  for (int level = 1; level <= 10; ++level) {
    yaml += absl::StrCat("a", level, ": &a", level, " [");
    for (int i = 0; i < 10; ++i) yaml += absl::StrCat(i ? ", " : "", "*a", level - 1);
    yaml += "]\n";
  }
  yaml += "a11: {x: 1, x: 2}\n";
  const auto duplicates = FindDuplicateKeys(YAML::Load(yaml));
  ASSERT_EQ(duplicates.size(), 1u);
  EXPECT_EQ(DescribeDuplicateKey(duplicates[0]), "a11.x: duplicate key (twice on line 12)");
}

TEST(CampaignSpecTest, ImageFolderDatasets) {
  const std::string base = "name: a\nk: 2\nbudget: 1\ncatalogue: adapted\nfamilies: [AirNet, BagNet]\n";
  auto folder = ParseCampaignSpec(base + "dataset: {name: folder, path: pets, resize: 32, skip_bad_images: true}\n");
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_EQ(folder->dataset.name(), "folder");
  EXPECT_EQ(folder->dataset.path(), "pets");
  EXPECT_TRUE(folder->dataset.skip_bad_images());
  EXPECT_EQ(InputImageSize(folder->dataset), 32);
  auto strict = ParseCampaignSpec(base + "dataset: {name: folder, path: pets}\n");
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_FALSE(strict->dataset.skip_bad_images());
  EXPECT_EQ(InputImageSize(strict->dataset), 0);  // the worker's disk knows
  EXPECT_EQ(EstimatedTrainingImagesPerClass(strict->dataset), 0);
  auto tiny = ParseCampaignSpec(base + "dataset: {name: tinyimagenet}\n");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ(InputImageSize(tiny->dataset), 64);
  EXPECT_EQ(EstimatedTrainingImagesPerClass(tiny->dataset), 500);
  struct Case {
    std::string dataset;
    std::string expect;
  } cases[] = {
      {"{name: folder}", "line 6: dataset.path: required for a folder dataset"},
      {"{name: folder, path: \"\"}", "dataset.path: required for a folder dataset"},
      {"{name: folder, path: /data/pets}", "is absolute"},
      {"{name: cifar10, skip_bad_images: true}", "dataset.skip_bad_images: applies to image files (folder, "
                                                 "tinyimagenet), not to \"cifar10\""},
      {"{name: folder, path: p, skip_bad_images: maybe}", "dataset.skip_bad_images: expected true or false"},
      {"{name: foldr, path: p}", "did you mean \"folder\"?"},
  };
  for (const auto& c : cases) {
    auto spec = ParseCampaignSpec(base + "dataset: " + c.dataset + "\n");
    ASSERT_FALSE(spec.ok()) << c.dataset;
    EXPECT_NE(std::string(spec.status().message()).find(c.expect), std::string::npos) << spec.status();
  }
  // The pool is checked against a folder's size once resize gives one.
  auto lemur = ParseCampaignSpec(
      "name: a\nk: 2\nbudget: 1\nfamilies: [AirNet, AlexNet]\ndataset: {name: folder, path: p, resize: 16}\n");
  ASSERT_FALSE(lemur.ok());
  EXPECT_NE(std::string(lemur.status().message()).find("resized gives 16x16"), std::string::npos) << lemur.status();
}

TEST(CampaignSpecTest, DatasetPathMustBeRelativeWithoutParentComponents) {
  const std::string base = "name: a\nk: 2\nbudget: 1\nfamilies: [AirNet, BagNet]\ndataset:\n  name: mnist\n  path: ";
  struct Case {
    std::string path;
    std::string expect;  // "" = valid
  } cases[] = {
      {"mnist", ""},
      {"mine/mnist-v2", ""},
      {"./mnist", ""},
      {"/data/mnist", "line 7: dataset.path: \"/data/mnist\" is absolute; give it relative to the workers' --data-root (e.g. \"mnist\")"},
      {"../../../../etc", "line 7: dataset.path: \"../../../../etc\" has a \"..\" component"},
      {"mnist/../../etc", "dataset.path: \"mnist/../../etc\" has a \"..\" component"},
      {"a/..", "has a \"..\" component"},
      {"'/'", "is absolute"},
  };
  for (const auto& c : cases) {
    auto spec = ParseCampaignSpec(base + c.path + "\n");
    if (c.expect.empty()) {
      EXPECT_TRUE(spec.ok()) << c.path << ": " << spec.status();
      if (spec.ok()) {
        EXPECT_EQ(spec->dataset.path(), c.path);
      }
      continue;
    }
    ASSERT_FALSE(spec.ok()) << c.path;
    EXPECT_NE(std::string(spec.status().message()).find(c.expect), std::string::npos) << spec.status();
  }
  EXPECT_EQ(DatasetPathProblem(""), "");
  EXPECT_EQ(DatasetPathProblem("..x/y..z"), "");  // only a whole ".." component escapes
}

}  // namespace
}  // namespace moe4
