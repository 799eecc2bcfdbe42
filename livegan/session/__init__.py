"""The Session: the one place a livegan pipeline is built, for live, render, replay and analyze."""

from .model import ModelPath
from .session import Session, SessionSpec, session_registry

__all__ = ["ModelPath", "Session", "SessionSpec", "session_registry"]
