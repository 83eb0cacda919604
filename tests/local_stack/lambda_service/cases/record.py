"""Appends one JSON line per attempt to the file named in the event, so tests can see what ran when."""

import json
import os
import time


def handler(event, context):
    started = time.time()
    if event.get("announce"):  # lets a test know the handler is running
        open(event["announce"], "w").close()
    time.sleep(event.get("sleep", 0))
    with open(event["path"], "a") as out:
        out.write(
            json.dumps(
                {
                    "id": event.get("id"),
                    "request_id": context.aws_request_id,
                    "pid": os.getpid(),
                    "start": started,
                    "end": time.time(),
                }
            )
            + "\n"
        )
    if event.get("fail"):
        raise RuntimeError(f"failing on purpose ({event.get('id')})")
    return {"id": event.get("id")}
