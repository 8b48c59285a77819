"""`--mode call` (the default): call and response. The player plays a phrase; when it ends, the bot answers.

The phrase ends with a silence (`--phrase-gap`, or `--phrase-beats` when a tempo is known) after every key
is up, or at once by pedal, CC or key (`--phrase-end`). The answer is composed the moment the last key
comes up, timed to begin when the gap ends (on the next beat when a tempo is known): so when the gap does
end, the first note already waits in the scheduler and nothing stands between the silence and the answer.
A key struck before then withdraws the answer unheard; a key struck while it sounds cuts it off (barge-in).
The answer reaches the voice only once the player plays on, so it can be undone or re-rolled.
"""

from __future__ import annotations

from duetto.jam.modes.base import Mode


class CallAndResponse(Mode):
    name = "call"
    holds_answers = True

    def __init__(self) -> None:
        super().__init__()
        self.answer_starts = 0.0  # when the pending answer's first note may leave
        # when the latest answered phrase ended: its last key-up's arrival (for re-roll; read by the bench)
        self.phrase_ended_at: float | None = None

    def key_struck(self, stamp: float) -> None:
        """An answer not yet begun is withdrawn; one sounding is cut off."""
        stage = self.stage
        if stage.silence_bot() and stage.now() >= self.answer_starts:
            stage.stats.barge_ins += 1

    def player_note(self, stamp: float, pitch: int, velocity: int, keys_down: bool) -> None:
        stage = self.stage
        if (velocity == 0 and not keys_down and stage.phrase_has_notes
                and stage.settings.phrase_end.signal == "silence"):
            self._answer(stamp, self._phrase_gap())

    def phrase_trigger(self, stamp: float) -> None:
        """A pedal, CC or key ends the phrase: answer now, or on the next beat."""
        if self.stage.phrase_has_notes:
            self._answer(stamp, 0.0)

    def reroll(self) -> bool:
        """Discard the last answer and play a new one in its place, from the same moment of the duet."""
        if self.phrase_ended_at is None:
            return False
        self.stage.forget_answer()
        now = self.stage.now()
        self._compose(now, now)
        return True

    def _phrase_gap(self) -> float:
        settings, grid = self.stage.settings, self.stage.grid()
        if grid is not None and settings.phrase_beats is not None:
            return settings.phrase_beats * grid.beat
        return settings.phrase_gap

    def _answer(self, released: float, gap: float) -> None:
        """Prepare the answer the moment the phrase ends (at `released`), timed to start when the gap
        ends. A key-down stamped after `released` (perhaps already waiting in the inbox) stops the answer
        from being composed at all."""
        self.stage.end_phrase()
        self.phrase_ended_at = released
        self._compose(released + gap, released)

    def _compose(self, earliest: float, since: float) -> None:
        """Stream an answer into the scheduler, starting at `earliest` or the first beat after it;
        abandoned if the player strikes a key after `since`."""
        stage = self.stage
        grid = stage.grid()
        start = earliest if grid is None else grid.next_beat(earliest)
        self.answer_starts = start - stage.settings.latency_compensation

        def abandon() -> bool:
            return stage.stopping or stage.latest_strike > since

        stage.perform(lambda: stage.compose(stage.settings.response_seconds, abandon, start=start),
                      start, grid)
