"""The ONNX step model (load, check, step), its rolling state kept current note by note, and the sampler
that turns logits into a choice."""
