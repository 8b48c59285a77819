"""The benchmarks, the quality table and the demo: the only runtime modules that may import the training
side (`duetto.train`, `duetto.export`) or the test rigs (`duetto.testing`)."""
