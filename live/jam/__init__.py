"""`duetto jam`: the live session. Port-thread intake, the engine thread and its modes, the scheduler that
owns the output, controls and config, recording, the terminal view, CC learn."""
