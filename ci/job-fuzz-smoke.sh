#!/usr/bin/env bash
# ci/job-fuzz-smoke.sh: a short libFuzzer run of every fuzz target.
#
# Builds the targets with clang, libFuzzer, ASan and UBSan (HW_TRACKING=asan),
# replays the corpus through ctest (label "fuzz"), then fuzzes each target for
# HW_SMOKE_SECONDS (default 20) with -seed=1, starting from
# corpus/<target>/seed and corpus/<target>/regress, with the target's .options
# and dictionary.
#
# Gates: the corpus replay, and any crash, leak, timeout or out-of-memory input
# the fuzzer finds (each is a real bug: inputs are bounded, so a 25 s timeout
# is a hang). Nothing else gates: libFuzzer is not reproducible run to run, so
# coverage and corpus growth are reported, not checked. A failing input is
# kept in $HW_BUILD_ROOT/fuzz-smoke/artifacts/<target>/ with the command that
# replays it.
#
# Run locally exactly as CI does: bash ci/job-fuzz-smoke.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
hw_require cmake cmake
cc=$(hw_clang)
seconds=${HW_SMOKE_SECONDS:-20}

dir="$HW_BUILD_ROOT/fuzz-smoke"
hw_configure "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DHW_DEBUG=1 "-DHW_SANITIZE=address;undefined" \
	-DHW_TRACKING=asan -DHW_FUZZ_ENGINE=libfuzzer -DHW_BUILD_TESTS=OFF -DHW_BUILD_BENCH=OFF
hw_build "$dir"
hw_sanitizer_env
hw_ctest "$dir" -L fuzz

mapfile -t targets < <(hw_fuzz_targets)
[ ${#targets[@]} -gt 0 ] || hw_die "no fuzz targets: fuzz/*.options is empty"

# options_flags TARGET: the [libfuzzer] section of fuzz/TARGET.options as
# -key=value flags; a `dict = name` is resolved against fuzz/.
options_flags() {
	local file="$HW_ROOT/fuzz/$1.options"
	awk -v fuzzdir="$HW_ROOT/fuzz" '
		/^[ \t]*\[/ { sec = $0; gsub(/[][ \t]/, "", sec); next }
		sec != "libfuzzer" || /^[ \t]*([#;]|$)/ { next }
		{
			i = index($0, "=")
			if (i == 0) next
			k = substr($0, 1, i - 1); v = substr($0, i + 1)
			gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (k == "dict") v = fuzzdir "/" v
			print "-" k "=" v
		}' "$file"
}

failed=()
for t in "${targets[@]}"; do
	bin="$dir/fuzz/$t"
	[ -x "$bin" ] || hw_die "fuzz target $t was not built ($bin)"
	work="$dir/work/$t"
	art="$dir/artifacts/$t"
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	mapfile -t flags < <(options_flags "$t")
	if [ -f "$HW_ROOT/fuzz/$t.dict" ] && ! printf '%s\n' "${flags[@]}" | grep -q '^-dict='; then
		flags+=("-dict=$HW_ROOT/fuzz/$t.dict")
	fi
	corpora=()
	for c in seed regress; do
		[ -d "$HW_ROOT/corpus/$t/$c" ] && corpora+=("$HW_ROOT/corpus/$t/$c")
	done
	[ ${#corpora[@]} -gt 0 ] || hw_log "warning: $t has no corpus/$t/seed; fuzzing from nothing"
	hw_log "fuzz $t for ${seconds}s: ${flags[*]}"
	status=0
	# The first corpus directory receives new inputs: a scratch one, so the
	# committed corpus is never written.
	"$bin" -seed=1 -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
		-print_final_stats=1 -artifact_prefix="$art/" "${flags[@]}" \
		"$work" "${corpora[@]}" >"$dir/$t.fuzz.log" 2>&1 || status=$?
	grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::new_units_added)' \
		"$dir/$t.fuzz.log" || true
	found=$(find "$art" -type f | head -n 1)
	if [ $status -ne 0 ] || [ -n "$found" ]; then
		tail -n 60 "$dir/$t.fuzz.log"
		if [ -n "$found" ]; then
			echo "FAIL $t: libFuzzer found $found"
			echo "  replay: $bin $found"
		else
			echo "FAIL $t: libFuzzer exited $status without an artifact"
		fi
		failed+=("$t")
	else
		echo "ok $t ($(find "$work" -type f | wc -l) new inputs kept in $work)"
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	hw_die "fuzz smoke failed for: ${failed[*]}"
fi
echo "fuzz smoke: ${#targets[@]} targets, no crash in ${seconds}s each"
