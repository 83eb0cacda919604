"""Grows its resident memory 8 MB at a time until something stops it."""

import time

HELD = []


def handler(event, context):
    for _ in range(event.get("chunks", 256)):
        HELD.append(b"x" * (8 << 20))
        time.sleep(0.005)
    return {"held_mb": 8 * len(HELD)}
