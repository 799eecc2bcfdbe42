"""Set recording (``livegan live --record SET``) and replay (``livegan render --replay SET``)."""
