#!/usr/bin/env bash
# Prints, one a line, the Debian packages that own the shared libraries the
# given binaries load. The runtime stages install exactly these, so the images
# follow CMakeLists.txt without a hand-kept list that drifts from it.
#
#   runtime-packages.sh BINARY...
# MOE4_BUNDLED_LIB_DIRS: colon-separated directories whose libraries ship with
# the image itself (the CUDA LibTorch), so no package owns them.
set -euo pipefail
(($#)) || { echo "usage: runtime-packages.sh BINARY..." >&2; exit 2; }
IFS=: read -r -a bundled <<<"${MOE4_BUNDLED_LIB_DIRS:-}"

declare -A libs=()      # resolved path -> the names dpkg may know it by
status=0
while read -r name path; do
  if [[ "$path" == "not found" ]]; then
    # The NVIDIA container runtime mounts the driver's libraries at run time.
    [[ "$name" == libcuda.so* || "$name" == libnvidia-* ]] && continue
    echo "runtime-packages: $name: not found" >&2; status=1; continue
  fi
  for dir in "${bundled[@]}"; do
    [[ -n "$dir" && "$path" == "$dir"/* ]] && continue 2
  done
  # ldd reports /lib paths where dpkg may have recorded /usr/lib ones (merged
  # /usr), and alternatives (libblas.so.3) are owned only under their real path.
  libs[$path]="$path /usr$path ${path#/usr} $(readlink -f "$path")"
done < <(ldd "$@" | awk '$2 == "=>" { if ($3 == "not") print $1, "not found"; else print $1, $3 }')

# One dpkg-query for every candidate: per-path calls take minutes for LibTorch.
declare -A owner=()
while IFS= read -r line; do
  [[ "$line" == diversion* ]] && continue
  path=${line##*: } pkgs=${line%: *}
  owner[$path]=${pkgs%%[:,]*}
done < <(printf '%s\n' ${libs[@]+"${libs[@]}"} | tr ' ' '\n' | sort -u | xargs -r dpkg-query -S 2>/dev/null || true)

declare -A packages=()
for path in "${!libs[@]}"; do
  found=""
  for candidate in ${libs[$path]}; do
    [[ -n "${owner[$candidate]:-}" ]] && { found=${owner[$candidate]}; break; }
  done
  if [[ -z "$found" ]]; then echo "runtime-packages: $path: no package owns it" >&2; status=1; continue; fi
  packages[$found]=1
done
((status == 0)) || exit 1
printf '%s\n' "${!packages[@]}" | sort
