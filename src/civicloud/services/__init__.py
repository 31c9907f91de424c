"""Use cases. Each opens a unit of work, reads, decides with the domain or scheduler, writes, commits.

The API, the CLI's server side and (later) the portal and simulator call
these same functions; authorization will live here too, so every front
shares it.
"""
