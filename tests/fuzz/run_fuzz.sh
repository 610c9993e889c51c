#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# straight from the sources and runs each for a bounded time.
#
#   run_fuzz.sh [--long] [--seconds N] [--target spec|idx|cifar|all] [--build-dir D]
#               [--keep-corpus] [SOURCE_DIR]
#
#   spec   moe4::ParseCampaignSpec + the samplers (common/; no LibTorch)
#   idx    the MNIST/Fashion-MNIST IDX reader (worker/data/idx_reader.cc; LibTorch)
#   cifar  the CIFAR binary reader (worker/data/cifar_reader.cc; LibTorch)
#
# Default: 20 s per target (CI); --long: 600 s per target. The dataset targets
# are built only when LibTorch's headers are installed (libtorch-dev); the
# spec target needs clang, libclang-rt-dev, protobuf, yaml-cpp and abseil.
# Exit codes: 0 no finding, 1 a finding (the reproducer is printed and kept
# under the build dir's crashes/), 77 clang or its fuzzer runtime missing
# (ctest shows the test as skipped, with the reason).
# New corpus entries stay in the build dir unless --keep-corpus copies the
# interesting ones back into tests/fuzz/corpus/.
set -euo pipefail

seconds=20
target=all
keep=0
build_dir=${MOE4_FUZZ_BUILD_DIR:-}
src=""
while (($#)); do
  case $1 in
    --long) seconds=600 ;;
    --seconds) seconds=$2; shift ;;
    --target) target=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --keep-corpus) keep=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) src=$1 ;;
  esac
  shift
done
src=${src:-$(cd "$(dirname "$0")/../.." && pwd)}
build_dir=${build_dir:-${TMPDIR:-/tmp}/moe4-fuzz-$(id -u)}
mkdir -p "$build_dir"

cxx=""
for c in clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
  if command -v "$c" >/dev/null; then cxx=$c; break; fi
done
if [[ -z $cxx ]]; then
  echo "SKIP: no clang++ (apt-get install clang libclang-rt-14-dev)"; exit 77
fi
probe=$build_dir/probe.cc
printf '%s\n' '#include <cstdint>' '#include <cstddef>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' >"$probe"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe" -o "$build_dir/probe" 2>"$build_dir/probe.log"; then
  echo "SKIP: $cxx cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev):"
  tail -3 "$build_dir/probe.log"
  exit 77
fi

launcher=()
command -v ccache >/dev/null && launcher=(ccache)
san=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cxxflags=(-std=c++17 -g -O1 "${san[@]}" -I"$src" -I"$build_dir/gen" -DNDEBUG)

compile() {  # out.o source [extra flags...]
  local out=$1 source=$2; shift 2
  if [[ ! -f $out || $source -nt $out || -n $(find "$src/common" "$src/worker/data" -newer "$out" -name '*.h' 2>/dev/null | head -1) ]]; then
    "${launcher[@]}" "$cxx" "${cxxflags[@]}" "$@" -c "$source" -o "$out"
  fi
}

# Generated protobuf code, as the CMake build makes it.
mkdir -p "$build_dir/gen" "$build_dir/obj"
if [[ ! -f $build_dir/gen/moe4/v1/moe4.pb.cc || $src/proto/moe4/v1/moe4.proto -nt $build_dir/gen/moe4/v1/moe4.pb.cc ]]; then
  protoc -I"$src/proto" --cpp_out="$build_dir/gen" "$src/proto/moe4/v1/moe4.proto"
fi

build_spec() {
  local objs=()
  compile "$build_dir/obj/moe4.pb.o" "$build_dir/gen/moe4/v1/moe4.pb.cc"
  objs+=("$build_dir/obj/moe4.pb.o")
  for f in campaign_spec catalogue catalogue_kind combinatorics precision_name sampling schedule yaml_keys; do
    compile "$build_dir/obj/$f.o" "$src/common/$f.cc"
    objs+=("$build_dir/obj/$f.o")
  done
  compile "$build_dir/obj/spec_fuzz.o" "$src/tests/fuzz/spec_fuzz.cc"
  # shellcheck disable=SC2046
  "$cxx" "${san[@]}" "${objs[@]}" "$build_dir/obj/spec_fuzz.o" -o "$build_dir/spec_fuzz" \
    $(pkg-config --libs protobuf yaml-cpp absl_status absl_statusor absl_strings absl_str_format)
}

torch_include=""
for d in /usr/include/torch/csrc/api/include /usr/local/include/torch/csrc/api/include; do
  [[ -d $d ]] && torch_include=$d && break
done
torch_flags=(-isystem "$torch_include" -D_GLIBCXX_USE_CXX11_ABI=1)

build_dataset() {  # name
  local name=$1
  compile "$build_dir/obj/${name}_reader.o" "$src/worker/data/${name}_reader.cc" "${torch_flags[@]}"
  compile "$build_dir/obj/${name}_fuzz.o" "$src/tests/fuzz/${name}_fuzz.cc" "${torch_flags[@]}"
  "$cxx" "${san[@]}" "$build_dir/obj/${name}_reader.o" "$build_dir/obj/${name}_fuzz.o" \
    -o "$build_dir/${name}_fuzz" -ltorch -ltorch_cpu -lc10 -lz \
    $(pkg-config --libs absl_status absl_statusor absl_strings)
}

targets=()
case $target in
  all) targets=(spec idx cifar) ;;
  spec|idx|cifar) targets=("$target") ;;
  *) echo "unknown target $target (spec, idx, cifar, all)" >&2; exit 2 ;;
esac

status=0
for t in "${targets[@]}"; do
  if [[ $t != spec && -z $torch_include ]]; then
    echo "SKIP: $t: LibTorch headers not found (apt-get install libtorch-dev)"
    continue
  fi
  echo "== building $t fuzzer with $cxx"
  start=$(date +%s)
  if [[ $t == spec ]]; then build_spec; else build_dataset "$t"; fi
  echo "   built in $(( $(date +%s) - start )) s"
  corpus=$build_dir/corpus-$t
  crashes=$build_dir/crashes-$t
  mkdir -p "$corpus" "$crashes"
  dict=()
  [[ -f $src/tests/fuzz/$t.dict ]] && dict=(-dict="$src/tests/fuzz/$t.dict")
  echo "== fuzzing $t for $seconds s (seeds: tests/fuzz/corpus/$t)"
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$build_dir/${t}_fuzz" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -max_len=8192 -print_final_stats=1 -error_exitcode=1 -artifact_prefix="$crashes/" \
    "$corpus" "$src/tests/fuzz/corpus/$t" >"$build_dir/$t.log" 2>&1
  rc=$?
  set -e
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$build_dir/$t.log" | tr '\n' ' '
  echo
  if ((rc != 0)); then
    status=1
    echo "FAIL: $t fuzzer found a problem (exit $rc); last lines of $build_dir/$t.log:"
    grep -v '^#' "$build_dir/$t.log" | tail -40
    for f in "$crashes"/*; do
      [[ -f $f ]] || continue
      echo "-- reproducer $f (base64; run: $build_dir/${t}_fuzz $f):"
      head -c 2048 "$f" | base64
    done
  else
    echo "PASS: $t: no crash, leak, sanitizer report or property violation in $seconds s"
  fi
  if ((keep)); then
    "$build_dir/${t}_fuzz" -merge=1 "$src/tests/fuzz/corpus/$t" "$corpus" >/dev/null 2>&1 || true
  fi
done
exit $status
