// MOE4_TORCH_CUDA is defined when this translation unit is compiled against a
// LibTorch built with CUDA (PyPI's torch wheel, a pytorch.org CUDA zip) and
// the CUDA toolkit's headers are on the include path, so that LibTorch's
// c10/cuda and ATen/cuda headers compile. Debian's libtorch-dev is CPU-only
// but still ships those headers, without the generated
// c10/cuda/impl/cuda_cmake_macros.h they need: on a machine that also has the
// CUDA toolkit's headers in a default include directory (/usr/local/include),
// testing for <cuda_runtime_api.h> alone would pick them up and fail.
#ifndef MOE4_WORKER_TRAIN_TORCH_CUDA_H_
#define MOE4_WORKER_TRAIN_TORCH_CUDA_H_

#if __has_include(<c10/cuda/impl/cuda_cmake_macros.h>) && __has_include(<cuda_runtime_api.h>)
#define MOE4_TORCH_CUDA 1
#endif

#endif  // MOE4_WORKER_TRAIN_TORCH_CUDA_H_
