"""How music becomes what a model reads and writes: the event stream, the piano roll, the note-level
sequences. Each module names its encoding and version; the runtime refuses models of any other."""
