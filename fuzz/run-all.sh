#!/usr/bin/env bash
# Builds every fuzz target and runs each for ${FUZZ_SECONDS:-20} seconds,
# starting from the checked-in seeds in fuzz/corpus/<target>/. Exits non-zero
# on the first crash (libFuzzer leaves the input in fuzz/artifacts/<target>/).
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 unlocks the -Z flags that
# cargo-fuzz passes. New corpus entries go to a scratch directory so the
# checked-in seed corpus stays small; copy interesting ones over by hand.
# Builds go to fuzz/target (cargo-fuzz's default) unless CARGO_TARGET_DIR
# is set.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

targets=$(cargo fuzz list)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cargo fuzz build
for target in $targets; do
    # SDP seeds (real browser offers) are larger than datagrams; signal
    # inputs hold whole WebSocket sessions (one seed passes the 64 layer
    # preferences a member may keep).
    case "$target" in
        sdp) max_len=16384 ;;
        signal) max_len=8192 ;;
        *) max_len=4096 ;;
    esac
    echo "=== fuzzing $target for ${seconds}s" >&2
    mkdir -p "$scratch/$target" "corpus/$target"
    cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1
done
echo "all fuzz targets ran ${seconds}s without a crash" >&2
