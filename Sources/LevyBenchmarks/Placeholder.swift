enum _PlaceholderLevyBenchmarks {}
