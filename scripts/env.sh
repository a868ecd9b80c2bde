# Sourced by Flashbulb's scripts: tool paths and versions in one place.
# shellcheck shell=bash

FLASHBULB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FLASHBULB_ROOT

CARGO_LEPTOS_VERSION="0.3.11"
# libFuzzer through cargo, for scripts/fuzz.
CARGO_FUZZ_VERSION="0.13.2"
# Debian's binaryen (108) produces WASM that fails at run time; npm's build is current.
BINARYEN_VERSION="132.0.0"
# The CLI must equal the wasm-bindgen library in Cargo.lock, byte for byte.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$FLASHBULB_ROOT/Cargo.lock")"

# cargo-leptos builds the server with this set, and Leptos names the WASM file the pages load
# after it (`flashbulb.wasm`; `flashbulb_bg.wasm` when unset). Exported for every cargo command,
# so a server from `cargo build` or `cargo bench` loads the same file, and release builds of
# cargo and cargo-leptos share their artifacts instead of rebuilding Leptos and all above it.
export LEPTOS_OUTPUT_NAME="flashbulb"

# The S3-protocol server the object-storage drill runs (moto's server mode, from PyPI).
MOTO_VERSION="5.2.5"

# The benchmark plots.
MATPLOTLIB_VERSION="3.10.7"

export PATH="$FLASHBULB_ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
