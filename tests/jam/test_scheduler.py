"""The output scheduler, on the real clock: order, never early, barge-in, exit, safety releases, failures.

Only lower bounds on timing are asserted (nothing is sent before its time); how late it may be is a
matter for the benchmarks, not for unit tests on a shared machine.
"""

from __future__ import annotations

import time
from time import perf_counter

import pytest

from duetto.jam.scheduler import Scheduler

SETTLE = 0.1  # long enough for anything wrongly still queued to have gone out


class Port:
    """Collects what the scheduler sends, with the moment each message left; can fail on demand."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[float, tuple[int, ...]]] = []
        self.failures = failures

    def send(self, message: list[int]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("port went away")
        self.sent.append((perf_counter(), tuple(message)))

    @property
    def messages(self) -> list[tuple[int, ...]]:
        return [message for _, message in self.sent]


def on(channel, pitch, velocity):
    return 0x90 | channel, pitch, velocity


def off(channel, pitch):
    return 0x80 | channel, pitch, 0


def all_notes_off(channel):
    return 0xB0 | channel, 123, 0


def wait_until(condition, timeout=2.0) -> bool:
    deadline = perf_counter() + timeout
    while not condition():
        if perf_counter() > deadline:
            return False
        time.sleep(0.001)
    return True


@pytest.fixture
def make_scheduler():
    made = []

    def make(port=None, **options):
        port = port or Port()
        scheduler = Scheduler(port.send, **options)
        made.append(scheduler)
        return scheduler, port

    yield make
    for scheduler in made:
        scheduler.close()


def test_events_go_out_in_time_order_and_never_early(make_scheduler):
    scheduler, port = make_scheduler()
    base = perf_counter() + 0.02
    plan = [  # (offset, message), deliberately scheduled out of order
        (0.030, on(0, 60, 90)), (0.005, on(0, 64, 80)), (0.050, off(0, 60)),
        (0.020, off(0, 64)), (0.040, on(1, 67, 70)), (0.045, off(1, 67)),
    ]
    for offset, (status, pitch, velocity) in plan:
        if status & 0xF0 == 0x90:
            scheduler.note_on(base + offset, status & 0x0F, pitch, velocity)
        else:
            scheduler.note_off(base + offset, status & 0x0F, pitch)
    assert wait_until(lambda: len(port.sent) == len(plan))
    in_time_order = sorted(plan)
    assert port.messages == [message for _, message in in_time_order]
    for (sent_at, _), (offset, _) in zip(port.sent, in_time_order):
        assert sent_at >= base + offset
    assert len(scheduler.lateness) == len(plan)
    assert min(scheduler.lateness) >= 0


def test_at_equal_times_releases_go_before_presses(make_scheduler):
    scheduler, port = make_scheduler()
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 90)
    scheduler.note_on(at + 0.05, 0, 62, 90)  # scheduled before the release at the same moment
    scheduler.note_off(at + 0.05, 0, 60)
    assert wait_until(lambda: len(port.sent) == 3)
    assert port.messages == [on(0, 60, 90), off(0, 60), on(0, 62, 90)]


def test_a_repeated_note_at_the_same_moment_keeps_sounding(make_scheduler):
    scheduler, port = make_scheduler()
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 90)
    scheduler.note_on(at + 0.05, 0, 60, 70)  # the next note of the same key, then the end of the first
    scheduler.note_off(at + 0.05, 0, 60)
    assert wait_until(lambda: len(port.sent) == 3)
    time.sleep(0.01)
    assert port.messages == [on(0, 60, 90), off(0, 60), on(0, 60, 70)]
    assert scheduler.busy  # the second note still sounds


def test_restriking_a_sounding_key_releases_it_first(make_scheduler):
    heard = []
    scheduler, port = make_scheduler(on_sent=lambda *event: heard.append(event[1:]))
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 90)
    scheduler.note_on(at + 0.01, 0, 60, 50)
    assert wait_until(lambda: len(port.sent) == 3)
    assert port.messages == [on(0, 60, 90), off(0, 60), on(0, 60, 50)]
    assert heard == [(0, 60, 90), (0, 60, 0), (0, 60, 50)]


def test_cancel_releases_exactly_what_sounds_and_drops_the_rest(make_scheduler):
    scheduler, port = make_scheduler()
    now = perf_counter()
    scheduler.note_on(now, 1, 62, 80)
    scheduler.note_on(now, 0, 60, 80)
    scheduler.note_on(now + 0.1, 0, 64, 80)  # pending: must never sound
    scheduler.note_off(now + 0.11, 0, 60)
    scheduler.note_off(now + 0.12, 0, 64)
    assert wait_until(lambda: len(port.sent) == 2)
    assert scheduler.cancel() == 2
    assert port.messages[2:] == [off(0, 60), off(1, 62)]
    assert not scheduler.busy
    time.sleep(max(0.0, now + 0.12 + SETTLE - perf_counter()))
    assert len(port.sent) == 4


def test_replan_drops_what_has_not_begun_lets_go_of_what_it_is_told_and_plays_the_rest_out(make_scheduler):
    scheduler, port = make_scheduler()
    now = perf_counter()
    scheduler.note_on(now, 0, 60, 80)  # sounding, kept: ends at its own release
    scheduler.note_on(now, 1, 61, 80)  # sounding, not kept: let go at once
    scheduler.forward(2, 72, 90)  # the player's key, passed through: not the bot's to drop
    scheduler.note_on(now + 0.15, 0, 64, 80)  # not begun: never sounds
    scheduler.note_off(now + 0.16, 0, 60)
    scheduler.note_off(now + 0.17, 1, 61)
    scheduler.note_off(now + 0.18, 0, 64)
    assert wait_until(lambda: len(port.sent) == 3)
    scheduler.replan(lambda channel, pitch: pitch != 61)
    assert port.messages[3:] == [off(1, 61)]
    time.sleep(max(0.0, now + 0.18 + SETTLE - perf_counter()))
    assert port.messages[4:] == [off(0, 60)]  # 61 let go already, 64 never struck: neither released again
    assert not scheduler.busy
    scheduler.note_on(perf_counter(), 0, 64, 80)  # planning goes on
    assert wait_until(lambda: port.messages[-1] == on(0, 64, 80))


def test_repitch_moves_notes_not_begun_with_their_releases_and_leaves_the_rest(make_scheduler):
    scheduler, port = make_scheduler()
    now = perf_counter()
    scheduler.note_on(now, 0, 60, 80)  # sounding by the time of the move: stays as it is
    scheduler.note_on(now + 0.15, 0, 64, 70)
    scheduler.note_on(now + 0.15, 1, 64, 70)  # same key on another channel: not named, not moved
    scheduler.note_off(now + 0.16, 0, 60)
    scheduler.note_off(now + 0.2, 0, 64)
    scheduler.note_off(now + 0.2, 1, 64)
    assert wait_until(lambda: len(port.sent) == 1)
    assert scheduler.repitch({(now, 0, 60): 62, (now + 0.15, 0, 64): 65}) == 1  # 60 has begun
    assert [(note.pitch, note.channel) for note in scheduler.plan()] == [(65, 0), (64, 1)]
    time.sleep(max(0.0, now + 0.2 + SETTLE - perf_counter()))
    assert port.messages == [on(0, 60, 80), on(0, 65, 70), on(1, 64, 70), off(0, 60), off(0, 65), off(1, 64)]
    assert not scheduler.busy


def test_cancel_with_nothing_sounding_sends_nothing(make_scheduler):
    scheduler, port = make_scheduler()
    scheduler.note_on(perf_counter() + 10, 0, 60, 80)
    assert scheduler.cancel() == 0
    time.sleep(0.01)
    assert port.sent == []
    assert not scheduler.busy


def test_scheduling_continues_after_cancel(make_scheduler):
    scheduler, port = make_scheduler()
    scheduler.cancel()
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 80)
    scheduler.note_off(at + 0.01, 0, 60)
    assert wait_until(lambda: len(port.sent) == 2)
    assert port.messages == [on(0, 60, 80), off(0, 60)]


def test_close_releases_then_sends_all_notes_off_on_every_channel_used(make_scheduler):
    scheduler, port = make_scheduler()
    now = perf_counter()
    scheduler.note_on(now, 3, 62, 80)
    scheduler.note_on(now, 0, 60, 80)
    scheduler.note_on(now, 5, 70, 80)
    scheduler.note_off(now + 0.01, 5, 70)  # channel 5 is silent by the end, but was used
    scheduler.note_on(now + 10, 7, 50, 80)  # channel 7 never sounds
    assert wait_until(lambda: len(port.sent) == 4)
    scheduler.close()
    assert port.messages[4:] == [
        off(0, 60), off(3, 62), all_notes_off(0), all_notes_off(3), all_notes_off(5),
    ]
    sent = len(port.sent)
    scheduler.close()
    scheduler.note_on(perf_counter(), 0, 60, 80)
    time.sleep(0.02)
    assert len(port.sent) == sent
    assert not scheduler.busy


def test_passed_through_pedals_are_lifted_and_bends_centred_on_close(make_scheduler):
    scheduler, port = make_scheduler()
    player = [(0xB2, 64, 127), (0xB1, 66, 100), (0xB1, 66, 0), (0xE1, 0, 90), (0xB2, 1, 70), (0xC2, 5),
              (0xE2, 0, 20), (0xE2, 0, 64)]  # sostenuto and channel 2's bend go back by themselves
    for message in player:
        scheduler.forward_message(list(message))
    assert wait_until(lambda: len(port.sent) == len(player))
    scheduler.close()
    assert port.messages == player + [(0xB2, 64, 0), (0xE1, 0, 64), all_notes_off(1), all_notes_off(2)]


def test_close_of_an_unused_scheduler_sends_nothing(make_scheduler):
    scheduler, port = make_scheduler()
    scheduler.close()
    assert port.sent == []


def test_a_note_never_released_is_released_after_max_note_seconds(make_scheduler):
    scheduler, port = make_scheduler(max_note_seconds=0.05)
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 80)
    assert wait_until(lambda: len(port.sent) == 2)
    assert port.messages == [on(0, 60, 80), off(0, 60)]
    assert port.sent[1][0] >= at + 0.05
    assert not scheduler.busy


def test_safety_release_of_an_ended_note_spares_the_next_note_of_that_key(make_scheduler):
    scheduler, port = make_scheduler(max_note_seconds=0.05)
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 80)
    scheduler.note_off(at + 0.01, 0, 60)
    scheduler.note_on(at + 0.03, 0, 60, 90)  # sounding when the first note's safety release comes due
    assert wait_until(lambda: len(port.sent) == 4)
    assert port.messages == [on(0, 60, 80), off(0, 60), on(0, 60, 90), off(0, 60)]
    assert port.sent[3][0] >= at + 0.03 + 0.05


def test_safety_release_of_a_restruck_note_spares_the_new_strike(make_scheduler):
    scheduler, port = make_scheduler(max_note_seconds=0.05)
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 80)
    scheduler.note_on(at + 0.03, 0, 60, 90)
    assert wait_until(lambda: len(port.sent) == 4)
    assert port.messages == [on(0, 60, 80), off(0, 60), on(0, 60, 90), off(0, 60)]
    assert port.sent[3][0] >= at + 0.03 + 0.05


def test_a_released_note_gets_no_second_release(make_scheduler):
    scheduler, port = make_scheduler(max_note_seconds=0.05)
    at = perf_counter()
    scheduler.note_on(at, 0, 60, 80)
    scheduler.note_off(at + 0.01, 0, 60)
    scheduler.note_off(at + 0.02, 0, 60)
    assert wait_until(lambda: len(port.sent) == 2)
    time.sleep(SETTLE)  # past the safety release
    assert port.messages == [on(0, 60, 80), off(0, 60)]


def test_a_failing_send_does_not_stop_the_scheduler(make_scheduler):
    scheduler, port = make_scheduler(Port(failures=1))
    at = perf_counter() + 0.01
    scheduler.note_on(at, 0, 60, 80)  # this one is lost
    scheduler.note_off(at + 0.01, 0, 60)
    scheduler.note_on(at + 0.02, 0, 62, 80)
    scheduler.note_off(at + 0.03, 0, 62)
    assert wait_until(lambda: len(port.sent) == 3)
    assert port.messages == [off(0, 60), on(0, 62, 80), off(0, 62)]
    assert scheduler.send_errors == 1
    assert "port went away" in scheduler.last_error


def test_a_port_that_always_fails_still_keeps_the_books(make_scheduler):
    heard = []
    scheduler, _ = make_scheduler(Port(failures=10**6), on_sent=lambda *event: heard.append(event[1:]))
    at = perf_counter()
    for i in range(5):
        scheduler.note_on(at + i * 0.005, 0, 60 + i, 80)
        scheduler.note_off(at + i * 0.005 + 0.002, 0, 60 + i)
    assert wait_until(lambda: len(heard) == 10)
    assert scheduler.send_errors == 10
    assert not scheduler.busy


def test_busy_while_notes_wait_or_sound(make_scheduler):
    scheduler, port = make_scheduler()
    assert not scheduler.busy
    scheduler.note_on(perf_counter() + 0.03, 0, 60, 80)
    assert scheduler.busy  # waiting
    assert wait_until(lambda: len(port.sent) == 1)
    time.sleep(0.01)
    assert scheduler.busy  # sounding
    scheduler.note_off(perf_counter(), 0, 60)
    assert wait_until(lambda: len(port.sent) == 2)
    assert not scheduler.busy  # only its safety release is left, and that does not count


def test_on_sent_hears_every_note_as_sent(make_scheduler):
    heard = []
    scheduler, port = make_scheduler(on_sent=lambda *event: heard.append(event))
    at = perf_counter() + 0.01
    scheduler.note_on(at, 2, 60, 100)
    scheduler.note_off(at + 0.01, 2, 60)
    scheduler.note_on(at + 0.02, 2, 64, 100)
    assert wait_until(lambda: len(heard) == 3)
    assert [event[1:] for event in heard] == [(2, 60, 100), (2, 60, 0), (2, 64, 100)]
    assert heard[0][0] >= at
    assert heard[1][0] >= at + 0.01
    assert heard[2][0] >= at + 0.02
    scheduler.cancel()
    assert heard[3][1:] == (2, 64, 0)
    assert heard[3][0] >= heard[2][0]
    assert len(port.sent) == 4


def test_cancel_after_close_sends_nothing():
    """An engine thread that barges in late must not touch a port closed after the scheduler."""
    sent = []
    scheduler = Scheduler(sent.append)
    scheduler.note_on(time.perf_counter(), 0, 60, 100)
    time.sleep(0.05)
    scheduler.close()
    closed_with = list(sent)
    assert scheduler.cancel() == 0
    assert sent == closed_with
