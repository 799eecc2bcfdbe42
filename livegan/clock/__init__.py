"""External clocks that lead the beat clock: Ableton Link, MIDI clock, a render's tempo map, a replayed set.

``external.py`` holds the reading they give (``ExternalTempo``) and the precedence among
them; each source is a module of its own, imported only when its option is used.
"""
