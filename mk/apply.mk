# Write-behind benchmarks (host/e2e), against the local MariaDB and
# PostgreSQL and an embedded SQLite file; results go to BENCHMARKS.md by hand.
#
#   make bench-apply   sustained apply from a pre-filled stream (200,000 persons
#                      changes), then the capture-to-commit lag under a steady
#                      20,000 writes/s through cogs for 10 s
#
# COGS_BENCH_PARTITIONS (apply.partitions), COGS_BENCH_RATE and
# COGS_BENCH_SECONDS adjust them.

.PHONY: bench-apply

bench-apply: check-go services
	COGS_REQUIRE_INTEGRATION=1 $(GO) test -run '^$$' -bench ApplyPrefilled -benchtime 200000x ./host/e2e/
	COGS_REQUIRE_INTEGRATION=1 $(GO) test -run '^$$' -bench LagSteady -benchtime 1x ./host/e2e/
