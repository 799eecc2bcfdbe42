"""livegan: a real-time audio-reactive StyleGAN instrument for VJs."""

__version__ = "0.1.0"
