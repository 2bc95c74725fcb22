#!/usr/bin/env bash
# cargo_build.sh: builds a small Rust program (no dependencies, offline) in
# a fresh directory and runs it. Under the launcher every step runs under
# the library: cargo, rustc, the C compiler driver, and the linker
# (rust-lld, whose libLLVM carries its own C++ runtime: src/malloc/kind.c
# KD3), then the program with a thread.
#
# Usage: bash cargo_build.sh (prints the program's one line)
set -euo pipefail
dir=$(mktemp -d "${HW_PRELOAD_TMP:-${TMPDIR:-/tmp}}/cargo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat >"$dir/Cargo.toml" <<'EOF'
[package]
name = "hwprobe"
version = "0.1.0"
edition = "2021"
EOF
cat >"$dir/src/main.rs" <<'EOF'
use std::collections::HashMap;

fn main() {
    let mut m = HashMap::new();
    for i in 0..100000u64 {
        m.insert(i, i.to_string());
    }
    let t = std::thread::spawn(move || m.values().map(|s| s.len()).sum::<usize>());
    println!("{}", t.join().unwrap());
}
EOF
CARGO_TARGET_DIR="$dir/target" cargo build -q --offline --manifest-path "$dir/Cargo.toml"
"$dir/target/debug/hwprobe"
