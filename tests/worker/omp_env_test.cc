// The OpenBLAS kernel family the worker picks from the CPU flags
// (worker/train/omp_env.h): only what the flags guarantee, never more.
#include "worker/train/omp_env.h"

#include <gtest/gtest.h>

namespace moe4::worker {
namespace {

TEST(OpenBlasCoreTypeTest, Avx512MachinesGetSkylakeX) {
  EXPECT_EQ(OpenBlasCoreTypeForFlags(" fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl"),
            "SkylakeX");
}

TEST(OpenBlasCoreTypeTest, PartialAvx512FallsBackToHaswell) {
  // Xeon Phi style: avx512f and cd, but not bw/dq/vl, which SkylakeX kernels use.
  EXPECT_EQ(OpenBlasCoreTypeForFlags("avx avx2 fma avx512f avx512cd avx512er avx512pf"), "Haswell");
}

TEST(OpenBlasCoreTypeTest, Avx2NeedsFma) {
  EXPECT_EQ(OpenBlasCoreTypeForFlags("sse4_2 avx avx2 fma"), "Haswell");
  EXPECT_EQ(OpenBlasCoreTypeForFlags("sse4_2 avx avx2"), "");
}

TEST(OpenBlasCoreTypeTest, OlderOrUnknownCpusAreLeftToOpenBlas) {
  EXPECT_EQ(OpenBlasCoreTypeForFlags("fpu sse sse2 sse3 ssse3 sse4_1 sse4_2 avx"), "");
  EXPECT_EQ(OpenBlasCoreTypeForFlags(""), "");
  // Whole words only: "avx2x" is not avx2.
  EXPECT_EQ(OpenBlasCoreTypeForFlags("avx2x fmax"), "");
}

}  // namespace
}  // namespace moe4::worker
