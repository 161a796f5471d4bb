#!/usr/bin/env bash
# Build every fuzz target with clang + libFuzzer + ASan + UBSan and run each one for a
# bounded time. Exit status 0 only when every target ran its time without a crash,
# a leak, a hang (an input taking over 10 s) or going over 2 GiB.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS-PER-TARGET] [TARGET...]
#
# SECONDS defaults to 60; TARGETs default to every target that is built (fuzz_xdr,
# fuzz_rpc_packet, fuzz_domain_xml, fuzz_qmp, fuzz_image_probe, fuzz_saveimage,
# fuzz_storage_xml, fuzz_secret_xml).
# Environment: QVIRT_FUZZ_BUILDDIR (default build-fuzz in the source tree), QVIRT_FUZZ_SEED
# (libFuzzer's -seed; unset = a random seed per run).
# Needs: clang and its runtime (Debian: clang libclang-rt-14-dev), meson, ninja.
#
# New inputs go to BUILDDIR/fuzz-work/TARGET, never into the source tree; a crasher is
# left as BUILDDIR/fuzz-artifacts/TARGET-crash-*. To keep it as a regression case,
# copy it into tests/fuzz/corpus/TARGET/ and add a case to tests/fuzzregresstest.c.
set -u

src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build=${QVIRT_FUZZ_BUILDDIR:-$src/build-fuzz}

if ! command -v clang >/dev/null; then
    echo "run-fuzzers: clang is not installed" >&2
    exit 1
fi

setuplog=$(mktemp)
trap 'rm -f "$setuplog"' EXIT
if [ -f "$build/build.ninja" ]; then
    # pick up targets whose layer landed since the last configure
    meson setup --reconfigure "$build" "$src" -Dfuzz=enabled >"$setuplog" 2>&1 || { cat "$setuplog" >&2; exit 1; }
else
    CC=clang meson setup "$build" "$src" \
        -Dfuzz=enabled \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link \
        -Dbuildtype=debugoptimized >"$setuplog" 2>&1 || {
        cat "$setuplog" >&2
        exit 1
    }
fi
# Build only the fuzz targets (and what they link), not the whole tree.
if [ $# -gt 0 ]; then
    wanted=("$@")
else
    wanted=(fuzz_xdr fuzz_rpc_packet fuzz_domain_xml fuzz_qmp fuzz_image_probe fuzz_saveimage fuzz_storage_xml fuzz_secret_xml)
fi
targets=()
for t in "${wanted[@]}"; do
    if ! ninja -C "$build" -t query "tests/fuzz/$t" >/dev/null 2>&1; then
        [ $# -gt 0 ] && { echo "run-fuzzers: no target $t" >&2; exit 1; }
        echo "run-fuzzers: $t not configured (its sources are missing), skipped"
        continue
    fi
    targets+=("$t")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "run-fuzzers: no fuzz target was built" >&2
    exit 1
fi
paths=("${targets[@]/#/tests/fuzz/}")
ninja -C "$build" "${paths[@]}" >/dev/null || { ninja -C "$build" "${paths[@]}"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export G_SLICE=always-malloc
export G_DEBUG=fatal-criticals

failed=0
for t in "${targets[@]}"; do
    exe=$build/tests/fuzz/$t
    seeds=$src/tests/fuzz/corpus/$t
    work=$build/fuzz-work/$t
    arts=$build/fuzz-artifacts
    mkdir -p "$work" "$arts" "$seeds"
    opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$arts/$t-")
    case $t in
    fuzz_image_probe) opts+=(-max_len=65536) ;;
    fuzz_domain_xml) opts+=(-max_len=16384) ;;
    fuzz_storage_xml | fuzz_secret_xml) opts+=(-max_len=4096) ;;
    *) opts+=(-max_len=8192) ;;
    esac
    [ -f "$src/tests/fuzz/$t.dict" ] && opts+=(-dict="$src/tests/fuzz/$t.dict")
    # A fixed seed (CI sets one) makes a run repeatable: the same code gets the same verdict.
    [ -n "${QVIRT_FUZZ_SEED:-}" ] && opts+=(-seed="$QVIRT_FUZZ_SEED")

    log=$build/fuzz-work/$t.log
    echo "run-fuzzers: $t for ${secs}s"
    "$exe" "${opts[@]}" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    stats=$(grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | tr '\n' ' ')
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        echo "run-fuzzers: $t FAILED (exit $rc); last lines of $log:"
        tail -n 60 "$log"
        ls -1 "$arts"/"$t"-* 2>/dev/null
    else
        echo "run-fuzzers: $t ok: $cov $stats"
    fi
done

echo "run-fuzzers: ${#targets[@]} targets, $failed failed"
[ $failed -eq 0 ]
