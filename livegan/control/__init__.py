"""The control surface: everything that steers the registry from outside.

- ``osc_server`` (+ ``osc_receiver``, ``osc_namespace``, ``osc_packet``, ``osc_validate``): OSC in.
- ``osc_out``: features and parameter changes out; ``oscquery``: the namespace as HTTP JSON.
- ``triggers``: ``ControlActions``, the app's hooks for preset and model loads.
- ``presets``, ``preset_watch``, ``morph``: preset load/save by name or index, hot reload, morphs.
- ``midi_learn``: MIDI learn (optional extra ``midi``); ``recording``: set recording and replay.
- ``surface``: the command-line options and one object that starts and stops all of it.
"""
