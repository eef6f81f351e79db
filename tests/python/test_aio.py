"""kafkette.aio against the real broker: send/flush on the producer's event fd, cancellation
(no message lost or duplicated), failures and purges as exceptions, and the asyncio
PartitionConsumer (fetch, async for, a cancelled fetch losing nothing)."""
import asyncio

import pytest
from conftest import consume_all

import kafkette
import kafkette.aio

PURGED = -125


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_send_and_flush(brokers, topic):
    async def main():
        async with kafkette.aio.Producer(brokers, "aio-send") as p:
            first = await p.send(topic, b"v0", key=b"k", headers={"h": b"1"})
            rest = await asyncio.gather(*(p.send(topic, b"v%d" % i) for i in range(1, 200)))
            assert await p.flush() == 0 and len(p) == 0
            return [first] + list(rest)

    results = run(main())
    assert [r.offset for r in results] == list(range(200))
    assert {(r.topic, r.partition) for r in results} == {(topic, 0)}
    assert isinstance(results[0], kafkette.aio.SendResult) and results[0].timestamp > 0
    assert [m.value for m in consume_all(brokers, topic, expected=200)] == [b"v%d" % i for i in range(200)]


def test_send_failure_raises_the_error_class(brokers, topic):
    async def main():
        async with kafkette.aio.Producer(brokers, "aio-fail") as p:
            with pytest.raises(kafkette.Error) as info:
                await p.send(topic, b"x", partition=9)
            return info.value

    err = run(main())
    assert isinstance(err, kafkette.error_class(err.code))


def test_cancelled_send_is_neither_lost_nor_duplicated(brokers, topic):
    async def main():
        p = kafkette.aio.Producer(brokers, "aio-cancel", linger_ms=200)
        tasks = [asyncio.ensure_future(p.send(topic, b"%d" % i)) for i in range(20)]
        await asyncio.sleep(0.05)  # all queued, none delivered yet (linger)
        for t in tasks[::2]:
            t.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert await p.flush() == 0 and len(p) == 0
        await p.close()
        return done

    done = run(main())
    assert all(isinstance(d, asyncio.CancelledError) for d in done[::2])
    assert all(isinstance(d, kafkette.aio.SendResult) for d in done[1::2])
    got = consume_all(brokers, topic, expected=20)
    assert sorted(m.value for m in got) == sorted(b"%d" % i for i in range(20))


def test_close_purges_and_fails_the_waiting_sends(topic):
    async def main():
        p = kafkette.aio.Producer(["127.0.0.1:1"], "aio-purge", connect_timeout_ms=200)
        tasks = [asyncio.ensure_future(p.send(topic, b"%d" % i)) for i in range(10)]
        await asyncio.sleep(0.05)
        assert await p.flush(0.2) == 10
        await p.close(timeout=0)
        return await asyncio.gather(*tasks, return_exceptions=True)

    done = run(main())
    assert [getattr(e, "code", None) for e in done] == [PURGED] * 10


def test_full_buffer_send_waits_without_blocking_the_loop(topic):
    async def main():
        p = kafkette.aio.Producer(["127.0.0.1:1"], "aio-full", buffer_memory=4096, max_block_ms=300,
                                  connect_timeout_ms=200)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        sends = []
        with pytest.raises(kafkette.Error) as info:
            for _ in range(100):
                sends.append(asyncio.ensure_future(p.send(topic, b"x" * 500)))
                await asyncio.sleep(0)
                if sends[-1].done():
                    sends[-1].result()
            await sends[-1]
        t.cancel()
        await p.close(timeout=0)
        await asyncio.gather(*sends, return_exceptions=True)
        return info.value.code, ticks

    code, ticks = run(main())
    assert code == -124 and ticks >= 10  # the loop kept running while send waited


def test_partition_consumer_fetch_and_async_for(brokers, topic, producer):
    producer.send_messages([kafkette.MessageToSend(topic, b"m%d" % i) for i in range(30)])

    async def main():
        async with kafkette.aio.PartitionConsumer("aio-c", brokers, topic, 0, "earliest_offset",
                                                  max_wait_ms=100) as c:
            got = []
            while not got:
                got.extend(m.value for m in await c.fetch())
            producer.send_messages([kafkette.MessageToSend(topic, b"m%d" % i) for i in range(30, 40)])
            async for m in c:
                got.append(m.value)
                if len(got) == 40:
                    break
            # a cancelled fetch (nothing to read yet) loses nothing
            f = asyncio.ensure_future(c.fetch(max_wait_ms=500))
            await asyncio.sleep(0.05)
            f.cancel()
            producer.send_messages([kafkette.MessageToSend(topic, b"late")])
            late = []
            while not late:
                late = await c.fetch()
            return got, [m.value for m in late]

    got, late = run(main())
    assert got == [b"m%d" % i for i in range(40)]
    assert late == [b"late"]
