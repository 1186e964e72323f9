"""Group commit for provider callbacks: concurrent reports share one transaction, and each
webhook is answered only after its report is committed (the database stays the record)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Collects items from concurrent requests and applies them in batches, one at a time."""

    def __init__(self, apply: Callable[[Sequence[T]], None], max_batch: int = 500) -> None:
        self.apply = apply
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[list[T], asyncio.Future[None]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once the item is committed; raise what the batch raised."""
        await self.submit_many([item])

    async def submit_many(self, items: Sequence[T]) -> None:
        """Return once every item is committed, all in the same batch (a provider's push of
        many reports: one transaction, however many it carries); raise what it raised."""
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._drain(self._queue))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((list(items), future))
        await future

    async def _drain(self, queue: asyncio.Queue[tuple[list[T], asyncio.Future[None]]]) -> None:
        while True:
            batch = [await queue.get()]
            size = len(batch[0][0])
            while size < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
                size += len(batch[-1][0])
            try:
                await run_in_threadpool(self.apply, [item for items, _f in batch for item in items])
            except Exception as exc:  # every waiter learns; the webhook answers 500, retried
                for _items, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _items, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
