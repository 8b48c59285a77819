-- A duet recorded in Ardour, run headless by its Lua session host: `ardour7-lua ardour_duet.lua DIR PLAY_TO
-- RECORD_FROM WITNESS SECONDS NOTE...`, each NOTE "beat:pitch:beats" (the phrase, on Ardour's timeline).
-- A MIDI track plays the phrase into PLAY_TO, where Ardour's MIDI Clock goes too (and to WITNESS, the test's
-- listener); a record-armed MIDI track records RECORD_FROM while the transport rolls for SECONDS from 0.
-- It prints "rolling" as the transport starts, then what the test reads back: "tempo BPM", "latency SAMPLES
-- RATE", "take FILE POSITION START".
local dir, play_to, record_from, witness, seconds = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5])
local TICKS = 1920 -- Temporal.Beats' ticks per beat

-- an empty JACK client name makes Ardour 7.3 flaky, and its engine can fall over if the session is made
-- the moment the backend is chosen
assert(AudioEngine:set_backend("JACK", "duetto-ardour", ""), "no JACK backend")
sleep(1)
local session = assert(create_session(dir, "duet", 48000), "no session")
sleep(1)

local midi = ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1)
local function midi_track(name)
  local made = session:new_midi_track(midi, midi, true, ARDOUR.PluginInfo(), nil, nil, 1, name,
                                      ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, false, false)
  for track in made:iter() do return track end
end
local function beats(value)
  local whole = math.floor(value)
  return Temporal.Beats(whole, math.floor((value - whole) * TICKS + 0.5))
end

-- the Lua host cannot import a MIDI file, but an empty region (bounced from the empty track) can be filled
local phrase, answer = midi_track("Phrase"), midi_track("Answer")
local region = phrase:bounce_range(0, math.floor(session:nominal_sample_rate() * seconds),
                                   ARDOUR.InterThreadInfo(), ARDOUR.LuaAPI.nil_proc(), false, "phrase")
local model = region:to_midiregion():midi_source(0):model()
local notes = model:new_note_diff_command("phrase")
for i = 6, #arg do
  local at, pitch, length = string.match(arg[i], "([%d.]+):(%d+):([%d.]+)")
  notes:add(ARDOUR.LuaAPI.new_noteptr(0, beats(tonumber(at)), beats(tonumber(length)), tonumber(pitch), 90))
end
model:apply_command(session, notes)
phrase:playlist():add_region(region, Temporal.timepos_t(0), 1, false)

ARDOUR.config():set_send_midi_clock(true)
for _, link in ipairs({{phrase:output():midi(0):name(), play_to}, {"duetto-ardour:MIDI Clock out", play_to},
                       {"duetto-ardour:MIDI Clock out", witness}, {record_from, answer:input():midi(0):name()}}) do
  assert(AudioEngine:connect(link[1], link[2]) == 0, "cannot connect " .. link[1] .. " to " .. link[2])
end
answer:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
session:maybe_enable_record(false)
sleep(0.5)

print("rolling")
session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
sleep(seconds)
session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
sleep(1.5) -- the butler writes the take

print("tempo", Temporal.TempoMap.read():tempo_at(Temporal.timepos_t(0)):note_types_per_minute())
print("latency", session:worst_output_latency(), session:nominal_sample_rate())
for take in answer:playlist():region_list():iter() do
  print("take", take:source(0):name(), take:position():samples(), take:start():samples())
end
session:save_state("", false, false, false, false, false)
