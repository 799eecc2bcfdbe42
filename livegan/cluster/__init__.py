"""Rendering on a Ray cluster (``livegan render --workers N`` / ``--ray-address ADDR``).

Needs the ``livegan[cluster]`` extra; nothing here imports Ray until a render asks for it.
"""
