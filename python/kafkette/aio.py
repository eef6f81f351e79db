"""asyncio front ends for kafkette.

``Producer.send`` queues a message with the core's asynchronous producer and returns a future
resolved from the producer's event fd (``loop.add_reader``): no thread pool, and the reports
are drained on the event loop's thread::

    async with kafkette.aio.Producer(["localhost:9092"], "my-app") as p:
        result = await p.send("topic1", b"value", key=b"k")
        print(result.partition, result.offset)

``PartitionConsumer.fetch`` runs the core's blocking fetch in a thread of its own (the core has
no event fd for fetches); ``async for message in consumer`` yields messages one by one.
"""

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, NamedTuple, Optional

from . import _kafkette

__all__ = ["PartitionConsumer", "Producer", "SendResult"]

_QUEUE_FULL = -124
_RETRY_FULL_S = 0.005  # how often a send waiting for room in buffer_memory tries again


class SendResult(NamedTuple):
    """Where a message went."""

    topic: str
    partition: int
    offset: int
    timestamp: int


def _settle(future: "asyncio.Future[SendResult]", err: Optional[BaseException], msg: Any) -> None:
    if future.done():  # the send was cancelled: the report is drained all the same
        return
    if err is not None:
        future.set_exception(err)
    else:
        future.set_result(SendResult(msg.topic, msg.partition, msg.offset, msg.timestamp))


class Producer:
    """An asyncio producer over kafkette.Producer's produce/poll.

    Options are kafkette.Producer's. ``max_block_ms`` (default 60000) bounds how long ``send``
    waits for room in ``buffer_memory``; it waits without blocking the loop (the underlying
    producer runs with ``max_block_ms=0`` and ``send`` retries every 5 ms). A cancelled
    ``send`` neither loses nor duplicates its message: it was queued once and its report is
    still drained; only the awaiting future is cancelled. Use from one event loop at a time.
    """

    def __init__(self, brokers: Any, client_id: str, *, max_block_ms: int = 60000, **options: Any) -> None:
        self._max_block_s = max_block_ms / 1000.0
        self._producer = _kafkette.Producer(brokers, client_id, max_block_ms=0, **options)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._pid = os.getpid()

    @property
    def producer(self) -> "_kafkette.Producer":
        """The underlying kafkette.Producer (for send_messages, stats, len)."""
        return self._producer

    @property
    def closed(self) -> bool:
        return self._producer.closed

    def __len__(self) -> int:
        return len(self._producer)

    def __bool__(self) -> bool:
        return True

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._pid != os.getpid():
            self._detach()
            self._fd = self._producer.event_fd()  # a new one after fork()
            loop.add_reader(self._fd, self._on_readable)
            self._loop, self._pid = loop, os.getpid()
        return loop

    def _detach(self) -> None:
        if self._loop is not None and self._pid == os.getpid() and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        self._loop, self._fd = None, -1

    def _on_readable(self) -> None:
        try:
            self._producer.poll(0)
        except Exception as exc:  # a closed producer, or a callback's error: report, keep serving
            if self._loop is not None:
                self._loop.call_exception_handler(
                    {"message": "kafkette.aio.Producer: serving delivery reports failed", "exception": exc}
                )

    async def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        *,
        partition: Optional[int] = None,
        headers: Any = None,
        timestamp_ms: Optional[int] = None,
    ) -> SendResult:
        """Queue one message and wait for its delivery report: the SendResult, or the
        kafkette.Error subclass of the report's code raised."""
        loop = self._attach()
        future: asyncio.Future[SendResult] = loop.create_future()
        on_delivery = functools.partial(_settle, future)
        deadline = None
        while True:
            try:
                self._producer.produce(
                    topic,
                    value,
                    key,
                    partition=partition,
                    headers=headers,
                    timestamp_ms=timestamp_ms,
                    on_delivery=on_delivery,
                )
                break
            except _kafkette.Error as exc:
                if getattr(exc, "code", None) != _QUEUE_FULL:
                    raise
                now = loop.time()
                if deadline is None:
                    deadline = now + self._max_block_s
                if now >= deadline:
                    raise
                await asyncio.sleep(_RETRY_FULL_S)
        return await future

    async def flush(self, timeout: Optional[float] = None) -> int:
        """Send what lingers and wait until every message has been served (its send resolved)
        or timeout seconds passed; the number still in flight (0: all done)."""
        loop = self._attach()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = self._producer.flush(0)
            if left == 0 or (deadline is not None and loop.time() >= deadline):
                return left
            await asyncio.sleep(0.005)

    async def close(self, timeout: Optional[float] = None) -> None:
        """Flush up to timeout seconds (None: until done), then purge what is left (those
        sends raise the PURGED code's class) and close. Idempotent."""
        if self._producer.closed:
            return
        try:
            await self.flush(timeout)
        finally:
            self._detach()
            self._producer.close(timeout=0)

    async def __aenter__(self) -> "Producer":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "<kafkette.aio.Producer %r>" % (self._producer,)


class PartitionConsumer:
    """An asyncio front end for kafkette.PartitionConsumer.

    The core's fetch blocks and has no event fd, so each consumer runs its fetches in a
    thread of its own (one worker; the event loop never blocks). A cancelled ``fetch`` loses
    nothing: the fetch in flight keeps running and the next ``fetch`` returns its messages.
    Arguments are PartitionConsumer.consumer_for_partition's.
    """

    def __init__(self, client_id: str, brokers: Any, topic: str, partition: int, offset: Any, **options: Any) -> None:
        self._consumer = _kafkette.PartitionConsumer.consumer_for_partition(
            client_id, brokers, topic, partition, offset, **options
        )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="kafkette-fetch")
        self._pending: Optional[asyncio.Future[List[Any]]] = None
        self._batch: List[Any] = []

    @property
    def consumer(self) -> "_kafkette.PartitionConsumer":
        """The underlying kafkette.PartitionConsumer."""
        return self._consumer

    @property
    def closed(self) -> bool:
        return self._consumer.closed

    async def fetch(self, **kwargs: Any) -> List["_kafkette.FetchedMessage"]:
        """One fetch (kafkette.PartitionConsumer.fetch's keyword arguments) in the consumer's
        thread; the messages, possibly none."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(self._executor, functools.partial(self._consumer.fetch, **kwargs))
        pending = self._pending
        try:
            messages = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending = None
        return messages

    def __aiter__(self) -> "PartitionConsumer":
        return self

    async def __anext__(self) -> "_kafkette.FetchedMessage":
        while not self._batch:
            if self._consumer.closed:
                raise StopAsyncIteration
            try:
                self._batch = list(reversed(await self.fetch()))
            except _kafkette.ConsumerClosedError:
                raise StopAsyncIteration from None
        return self._batch.pop()

    async def close(self) -> None:
        """Close the consumer (a fetch in flight is interrupted) and its thread. Idempotent."""
        self._consumer.close()
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                await pending
            except Exception:
                pass
        self._executor.shutdown(wait=False)

    async def __aenter__(self) -> "PartitionConsumer":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
