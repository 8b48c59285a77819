"""The test suite's JACK server: its rate and period."""

# a 5.3 ms period leaves a loaded 2-core CI machine headroom (latency is the benchmark's job, on a server of
# its own)
TEST_RATE, TEST_PERIOD_FRAMES = 48_000, 256
TEST_PERIOD_SECONDS = TEST_PERIOD_FRAMES / TEST_RATE
