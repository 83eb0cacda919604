"""The embedded default: every external service Baton needs, running on 127.0.0.1.

`baton stack up` starts each service as a process of its own (see `services.SERVICES`),
records it in the stack's home folder, and `baton stack down` stops exactly those processes.
"""
