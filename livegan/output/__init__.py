"""Video outputs: the post-effects picture, at the display rate, to other software.

One class per output (``stream.py``, ``ndi.py``, ``virtual_camera.py``) behind the small
interface in ``base.py``; ``feed.py`` hands each the newest picture through a latest-wins
slot and a worker thread of its own, so a slow receiver drops frames and never stalls the show.
"""
