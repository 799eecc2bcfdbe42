"""The control surface: everything that steers the registry from outside, and what it hears back.

- ``osc_server`` (+ ``osc_receiver``, ``osc_dispatch``, ``osc_namespace``, ``osc_packet``, ``osc_validate``):
  OSC in, with one error reply per refused message and a sender allow-list.
- ``feature_out``: the ``/livegan/out/...`` addresses; ``feedback``: the pump that reads the show's features
  and beat clock for ``osc_out`` (UDP) and the WebSocket, and publishes the read-only clock parameters.
- ``oscquery`` (the tree), ``query_server`` (HTTP/1.1 + WebSocket, ``websockets``), ``web_remote`` (the page),
  ``announce`` (zeroconf, opt-in).
- ``triggers``: ``ControlActions``, the app's hooks for preset, model and MIDI-learn actions.
- ``presets``, ``preset_watch``, ``morph``: preset load/save by name or index, hot reload, morphs.
- ``midi_learn``: MIDI learn (optional extra ``midi``).
- ``surface``: one object that builds, starts and stops all of it from ``livegan live``'s options
  (``commands/live_options.py``), and tells the HUD what runs.
"""
