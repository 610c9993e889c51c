#!/usr/bin/env bash
# Writes screenshots of the --ui dashboard's pages (campaigns, campaign, job,
# workers) to DIR (default docs/img), taken by headless Chromium in the
# browser test over a throwaway PostgreSQL and a simulated worker:
#
#   deploy/screenshots.sh [DIR] [BUILD_DIR]
#
# Needs a build with tests (coordinator_dashboard_browser_test), Debian's
# chromium and PostgreSQL (deploy/install-deps.sh installs both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/img}
build=${2:-$root/build}
test_bin=$build/tests/coordinator/coordinator_dashboard_browser_test
[[ -x $test_bin ]] || { echo "screenshots: $test_bin not built (cmake --build $build --target coordinator_dashboard_browser_test)" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

started_pg=
if [[ -z ${MOE4_PG_URL:-} ]]; then
  eval "$("$root/deploy/pg-throwaway.sh" start)"
  export MOE4_PG_URL MOE4_PG_DIR
  started_pg=$MOE4_PG_DIR
  trap '"$root/deploy/pg-throwaway.sh" stop "$started_pg"' EXIT
fi
MOE4_SCREENSHOT_DIR=$out "$test_bin" --gtest_filter='*AdminSeesTheDatabasesNumbersAndLiveEpochs' --gtest_color=no >/dev/null
for page in campaigns campaign job workers; do
  [[ -s $out/$page.png ]] || { echo "screenshots: $page.png was not written" >&2; exit 1; }
  mv -f "$out/$page.png" "$out/dashboard-$page.png"
  echo "wrote $out/dashboard-$page.png"
done
