"""Security primitives shared by senders and receivers (webhook signing)."""

from __future__ import annotations
