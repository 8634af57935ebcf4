"""Workarounds for the Firebase Local Emulator Suite, wired only by container.py."""
