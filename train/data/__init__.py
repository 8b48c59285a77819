"""Training data: pieces from their sources (`corpus`), and the encoded shards built from them (`dataset`)."""
