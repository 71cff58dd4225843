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
#
# FUZZ_SANITIZER (default `none`) is passed to `cargo fuzz build -s`: the
# library and the targets have no `unsafe`, and AddressSanitizer made the
# stateful targets 8 to 12 times slower (docs/fuzzing.md); set it to
# `address` to hunt memory errors in dependencies' unsafe code. Panics
# (every broken invariant is one), timeouts and out-of-memory are caught
# either way. FUZZ_ARGS adds libFuzzer flags to
# every target. `FUZZ_SECONDS=600 bash fuzz/run-all.sh` is the long budget
# recorded in docs/fuzzing.md.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-none}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

targets=$(cargo fuzz list)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The stateful targets (`sdp`, `router`) are built a second time, without
# compare tracing and into their own directory: in them most compares are
# str0m's SDP parser walking text, and tracing them cost 40 % of the time
# per input. Their text inputs get a dictionary instead (fuzz/dict/).
stateful_dir="${CARGO_TARGET_DIR:-target}/stateful"
cargo fuzz build -s "$sanitizer"
for target in sdp router; do
    cargo fuzz build -s "$sanitizer" --no-trace-compares --target-dir "$stateful_dir" "$target"
done
for target in $targets; do
    # SDP seeds (real browser offers) are larger than datagrams; signal
    # inputs hold whole WebSocket sessions (one seed passes the 64 layer
    # preferences a member may keep).
    case "$target" in
        sdp) max_len=16384 ;;
        signal) max_len=8192 ;;
        *) max_len=4096 ;;
    esac
    # An input of the stateful targets touches tens of thousands of
    # coverage features (a whole str0m stack), and libFuzzer's entropic
    # scheduler walks its rare-feature list for each of them: more than
    # half of the time per input (docs/fuzzing.md). The plain scheduler
    # reaches the same coverage per second there.
    case "$target" in
        sdp | router)
            schedule=(-entropic=0 "-dict=dict/sdp.dict")
            build=(--no-trace-compares --target-dir "$stateful_dir")
            ;;
        *)
            schedule=()
            build=()
            ;;
    esac
    echo "=== fuzzing $target for ${seconds}s" >&2
    mkdir -p "$scratch/$target" "corpus/$target"
    cargo fuzz run -s "$sanitizer" "${build[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 \
        "${schedule[@]}" "${extra_args[@]}"
done
echo "all fuzz targets ran ${seconds}s without a crash" >&2
