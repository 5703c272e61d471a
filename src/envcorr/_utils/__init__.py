"""Helpers shared by every module: checks, logging, docs, I/O, JSON, torch.

Nothing here knows about the method; each module is small and imports only
what it needs (``torchutils`` alone imports torch).
"""
