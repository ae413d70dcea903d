"""Orchestration: runs that combine sync, metrics and write-back (the run API behind
:mod:`crmsync.api`), the scheduler and the Celery workers. See docs/architecture.md."""
