"""Run: planning a campaign's output folder and rendering its shards.

Owns planning (validate, screen, reserve quota, cut into shards: planning.py), the shard loop
(render, retry, screen, hand off: runner.py), finishing in a pool of processes (finishing.py),
composing one creative for a variant (compose.py), and the inbox of served deployments.
Imports every stage below it; the flows and the CLI are its only callers. Plain functions over
paths, ids and small values, so Prefect can cache and retry them, and they run without it.
"""
