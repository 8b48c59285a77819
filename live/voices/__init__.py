"""How each model family listens to the duet and answers it: one module a voice, behind the protocol in
`base`. `limits` says what any voice may play; `common` holds what the note-level voices share."""
