"""Scale-out on Celery: sync (per connection and entity), compute and write-back as tasks.

Install with ``pip install 'crmsync[celery]'``.
:mod:`crmsync.orchestration.distributed.settings` (the
``[celery]`` table) imports without Celery; :mod:`crmsync.orchestration.distributed.app` needs it.
"""

from __future__ import annotations

__all__: list[str] = []
