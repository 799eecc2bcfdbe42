"""Synthesis: batches of GeneratorInputs -> frames on CUDA or the CPU (the engine and its fast path)."""
