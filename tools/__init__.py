"""The benchmarks, the quality table and the demo, with the stand-in player and the private JACK server
they run on. Nothing in the runtime imports them; they may import the training side (`duetto.train`,
`duetto.export`), only inside the functions that need it, so the demo and the latency bench run on the
runtime alone."""
