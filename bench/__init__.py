"""The userauth benchmark: ratios against baselines measured in the same run (bench/run)."""
