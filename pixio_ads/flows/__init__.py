"""Flows: the Prefect flows and deployments, thin wiring over run/ (and the ways a flow run
ends early: cancelled, stopped, orphaned; lifecycle.py). The deployments' entrypoints for
`prefect deploy` are the top-level flows/ folder's files, which import from here."""
