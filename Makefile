# Shortcuts: the README's two commands and the benchmark suite.
.PHONY: run test bench bench-smoke

run:
	scripts/demo

test:
	scripts/test

# Every budget of SPEC §4, measured in one run: writes BENCHMARKS.md and bench/plots/.
bench:
	scripts/bench

# The same steps at small sizes on debug builds (CI runs it).
bench-smoke:
	scripts/bench --smoke
