"""The group commit of webhooks: a push of many reports is applied in one batch, and every
waiter learns when its batch failed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from broadcaster.delivery.batcher import GroupCommit


def test_a_push_of_many_reports_is_applied_in_one_batch_even_beyond_the_batch_size() -> None:
    batches: list[list[int]] = []

    def apply(items: Sequence[int]) -> None:
        batches.append(list(items))

    async def main() -> None:
        committer = GroupCommit(apply, max_batch=3)
        await asyncio.gather(committer.submit_many([1, 2, 3, 4, 5]), committer.submit(6))
        await committer.close()

    asyncio.run(main())
    assert sorted(item for batch in batches for item in batch) == [1, 2, 3, 4, 5, 6]
    assert [1, 2, 3, 4, 5] in [batch[:5] for batch in batches]  # never split


def test_every_waiter_of_a_failed_batch_gets_its_error() -> None:
    def apply(_items: Sequence[int]) -> None:
        raise RuntimeError("database away")

    async def main() -> list[BaseException | None]:
        committer = GroupCommit(apply)
        results = await asyncio.gather(
            committer.submit_many([1, 2]), committer.submit(3), return_exceptions=True
        )
        await committer.close()
        return list(results)

    results = asyncio.run(main())
    assert [str(r) for r in results] == ["database away"] * 2
    assert all(isinstance(r, RuntimeError) for r in results)
