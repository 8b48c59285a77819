"""Rigs shared by the tests, the benchmarks and the demo: a private JACK server and a player and recorder on
the other side of the duet. Nothing in the runtime imports them."""
