"""Live mode: audio in, pictures out, nothing ever waits on the model.

Threads and the messages between them (all latest-wins, nothing queued)::

    audio child process ─blocks─▶ AudioRing ─▶ AnalysisThread ─FeatureFrame─▶ Latest
      (PortAudio capture or file playback;        (the same Analyzer as `render`)
       killed and restarted when a device dies)
    Latest[FeatureFrame] ─▶ InferenceThread (Conductor + Engine, CUDA or CPU) ─RenderedFrame─▶ Latest
    Latest[RenderedFrame] ─▶ GL main thread: PBO upload, shaders/ effect chain, HUD, swap

Every RenderedFrame carries the ring position of the newest sample its features heard;
the ring remembers when each block arrived, so the display measures audio-to-photon
latency at the swap that first shows a frame (at least half blended in).
"""
