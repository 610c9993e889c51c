// What a benchmark prints about the machine it ran on, so that a reader can
// judge its figures: the CPU, the load, which BLAS really served LibTorch.
// Shared by the training benchmarks. Pure functions over /proc; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace moe4::bench {

// `value` with `precision` digits after the point.
std::string Fixed(double value, int precision);
// The first three fields of /proc/loadavg ("unknown" if unreadable): a busy
// box explains slow figures.
std::string LoadAverage();
// The string lscpu prints as "Model name".
std::string CpuModel();
// The BLAS/LAPACK/MKL files mapped into this process. Debian picks
// libblas.so.3 through update-alternatives (OpenBLAS with OpenMP or pthreads,
// or the slow reference BLAS), so the linked name says nothing; the mapped
// file's path does.
std::vector<std::string> MappedBlasLibraries();

}  // namespace moe4::bench
