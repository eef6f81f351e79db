# frozen_string_literal: true

require "test_helper"

# A Fiber scheduler just big enough for the tests: fibers waiting on IO, sleeping, or blocked
# on a Mutex/Queue; the loop selects on their IOs (and a pipe that unblock writes to) until
# every fiber is done. It records the io_wait calls so a test can see the scheduler was used.
class TinyScheduler
  attr_reader :io_waits

  def initialize
    @readable = {} # io => fiber
    @deadlines = {} # fiber => monotonic deadline
    @blocked = {} # fiber => true
    @ready = []
    @lock = Thread::Mutex.new
    @wake_r, @wake_w = IO.pipe
    @io_waits = 0
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Returns the events when io became readable, false when the timeout passed first.
  def io_wait(io, _events, timeout)
    @io_waits += 1
    fiber = Fiber.current
    @readable[io] = fiber
    @deadlines[fiber] = now + timeout if timeout
    Fiber.yield
  ensure
    @readable.delete(io)
    @deadlines.delete(fiber)
  end

  def kernel_sleep(duration = nil)
    block(:sleep, duration)
  end

  def block(_blocker, timeout = nil)
    fiber = Fiber.current
    @blocked[fiber] = true
    @deadlines[fiber] = now + timeout if timeout
    Fiber.yield
  ensure
    @blocked.delete(fiber)
    @deadlines.delete(fiber)
  end

  # May come from another thread.
  def unblock(_blocker, fiber)
    @lock.synchronize { @ready << fiber }
    @wake_w.write_nonblock(".", exception: false)
  end

  def fiber(&)
    Fiber.new(blocking: false, &).tap(&:resume)
  end

  def close
    run
    @wake_r.close
    @wake_w.close
  end

  def run
    until @readable.empty? && @deadlines.empty? && @blocked.empty? && @ready.empty?
      timeout = @deadlines.values.min&.then { |d| [d - now, 0].max }
      readable, = IO.select([@wake_r, *@readable.keys], nil, nil, timeout)
      (readable || []).each do |io|
        next @wake_r.read_nonblock(1024, exception: false) if io == @wake_r

        @readable[io]&.resume(IO::READABLE)
      end
      ready = @lock.synchronize { @ready.slice!(0..) }
      ready.each { |f| f.resume if f.alive? }
      @deadlines.select { |_, d| d <= now }.each_key { |f| f.resume(false) if f.alive? }
    end
  end
end

class TestAsyncProducer < Minitest::Test
  include KafketteTest

  CYCLES = Integer(ENV.fetch("KAFKETTE_ASYNC_CYCLES", VALGRIND ? "2000" : "100000"), 10)

  def producer(options = {})
    @producers ||= []
    (@producers << Kafkette::Producer.new(BROKERS, "kafkette-ruby-async", options)).last
  end

  def teardown
    (@producers || []).each(&:close)
    @silent&.close
  end

  # A "broker" that accepts connections and never answers: nothing produced to it leaves the
  # producer's queue until delivery_timeout_ms.
  def silent_producer(options = {})
    @silent ||= TCPServer.new("127.0.0.1", 0)
    @held ||= []
    Thread.new { loop { @held << @silent.accept } rescue nil } # rubocop:disable Style/RescueModifier
    @producers ||= []
    (@producers << Kafkette::Producer.new(["127.0.0.1:#{@silent.addr[1]}"], "silent", options)).last
  end

  # Waits until the thread blocks in a call (status "sleep": a GVL-free wait), so an interrupt
  # hits the wait itself however slowly a loaded machine got the thread there.
  def wait_until_blocked(thread, timeout: 30)
    deadline = now + timeout
    sleep 0.01 until thread.status == "sleep" || !thread.alive? || now > deadline
    assert_equal "sleep", thread.status, "the thread never blocked"
  end

  def test_every_message_gets_exactly_one_report_and_its_block_runs_on_the_caller
    topic = create_topic("async", partitions: 3)
    p = producer(linger_ms: 20)
    calls = Hash.new(0)
    threads = []
    handles = Array.new(600) do |i|
      p.produce(topic, "v#{i}", key: "k#{i % 17}", headers: { "n" => i.to_s }) do |report|
        calls[i] += 1
        threads << Thread.current
        assert_predicate report, :delivered?
      end
    end
    assert_equal 0, p.flush(timeout: 30)
    assert_equal 0, p.in_flight
    assert_equal Array.new(600, 1), Array.new(600) { |i| calls[i] }
    assert_equal [Thread.current], threads.uniq
    reports = handles.map { |h| h.wait(timeout: 0) }
    reports.each_with_index do |r, i|
      assert_equal topic, r.topic
      assert_equal murmur2_partition("k#{i % 17}", 3), r.partition
      assert_kind_of Integer, r.timestamp_ms
    end
    offsets = reports.group_by(&:partition).transform_values { |rs| rs.map(&:offset).sort }
    offsets.each_value { |o| assert_equal (0...o.size).to_a, o }
    got = (0..2).flat_map { |part| consume(topic, part, offsets.fetch(part, []).size) }
    assert_equal (0...600).map { |i| "v#{i}" }.sort, got.map(&:value).sort
  end

  def test_wait_serves_the_report_and_the_handle_says_done
    topic = create_topic("async-wait")
    p = producer
    seen = nil
    h = p.produce(topic, "one", partition: 0, timestamp_ms: 1_700_000_000_000) { |r| seen = r }
    r = h.wait(timeout: 20)
    assert_predicate h, :done?
    assert_same r, seen
    assert_equal [0, 0, 1_700_000_000_000], [r.partition, r.offset, r.timestamp_ms]
    assert_same r, h.wait # served once, then kept
  end

  def test_an_unknown_partition_and_an_oversized_message_get_error_reports
    topic = create_topic("async-errors")
    p = producer(linger_ms: 0)
    reports = []
    bad = p.produce(topic, "x", partition: 7) { |r| reports << r }
    big = p.produce(topic, "x" * (3 * 1024 * 1024)) { |r| reports << r }
    good = p.produce(topic, "fine") { |r| reports << r }
    assert_raises(Kafkette::Errors::InvalidPartitionError) { bad.wait(timeout: 30) }
    error = assert_raises(Kafkette::Errors::Error) { big.wait(timeout: 30) }
    refute_kind_of Kafkette::Errors::TimedOutError, error
    assert_predicate good.wait(timeout: 30), :delivered?
    assert_equal 0, p.flush(timeout: 5)
    assert_equal 3, reports.size
    assert_equal([false, false, true], [bad, big, good].map { |h| h.report.delivered? })
  end

  def test_close_purges_what_linger_holds_back_and_serves_every_report
    topic = create_topic("async-purge")
    p = producer(linger_ms: 600_000, batch_size: 100_000_000)
    calls = Hash.new(0)
    handles = Array.new(50) { |i| p.produce(topic, "v#{i}") { calls[i] += 1 } }
    assert_equal 50, p.in_flight
    started = now
    p.close(timeout: 0) # no flush: linger_ms still holds them
    # waiting for linger_ms would take 600 s: a bound far below it, with room for a loaded machine
    assert_operator now - started, :<, 30
    assert_predicate p, :closed?
    assert_equal Array.new(50, 1), Array.new(50) { |i| calls[i] }
    handles.each do |h|
      assert_predicate h, :done?
      assert_kind_of Kafkette::Errors::ClosedError, h.report.error
    end
    assert_raises(Kafkette::Errors::ClosedError) { handles.first.wait }
    assert_raises(Kafkette::Errors::ProducerShutdownError) { p.produce(topic, "late") }
  end

  def test_flush_timeout_returns_what_is_left_and_close_purges_it
    p = silent_producer(linger_ms: 0)
    handles = Array.new(5) { |i| p.produce("nowhere", "v#{i}") }
    started = now
    assert_equal 5, p.flush(timeout: 0.3)
    # at least the timeout, and far less than delivery_timeout_ms (120 s), which it would wait
    # without one: a loaded machine may wake the thread late, so the upper bound is generous
    waited = now - started
    assert_operator waited, :>=, 0.3
    assert_operator waited, :<, 0.3 + 10
    refute(handles.any?(&:done?))
    assert_raises(Kafkette::Errors::TimedOutError) { handles.first.wait(timeout: 0.1) }
    p.close(timeout: 0)
    assert(handles.all? { |h| h.report.error.is_a?(Kafkette::Errors::ClosedError) })
  end

  # The bounds are relative to max_block_ms (1500) with room for a loaded machine: "at once" is
  # well under max_block_ms, "after it" at least max_block_ms and well under 60 s, the default.
  def test_a_full_buffer_raises_at_once_with_max_block_ms_0_and_after_it_otherwise
    [0, 1500].each do |block_ms|
      p = silent_producer(buffer_memory: 1024, max_block_ms: block_ms, linger_ms: 0)
      produced = 0
      started = nil
      error = assert_raises(Kafkette::Errors::TimedOutError) do
        50.times do
          started = now
          p.produce("nowhere", "x" * 200)
          produced += 1
        end
      end
      waited = now - started
      assert_operator produced, :>, 0
      assert_match(/QUEUE_FULL|full/i, error.message)
      if block_ms.zero?
        assert_operator waited, :<, 1.0
      else
        assert_operator waited, :>=, (block_ms - 50) / 1000.0 # ms rounding in the core's clock
        assert_operator waited, :<, (block_ms / 1000.0) + 10
      end
      assert_equal produced, p.in_flight # the refused message has no report to come
      p.close(timeout: 0)
      assert_equal 0, p.in_flight
    end
  end

  def test_thread_raise_interrupts_a_produce_waiting_for_room
    p = silent_producer(buffer_memory: 1024, max_block_ms: 60_000, linger_ms: 0)
    p.produce("nowhere", "x" * 600)
    t = Thread.new do
      p.produce("nowhere", "y" * 600)
      :returned
    rescue RuntimeError => e
      e.message
    end
    wait_until_blocked(t) # waiting for room (max_block_ms: 60 s)
    started = now
    t.raise(RuntimeError, "stop")
    assert_equal "stop", t.value
    # not max_block_ms (60 s): the interrupt woke the wait; room for a loaded machine
    assert_operator now - started, :<, 10
    assert_equal 1, p.in_flight # the interrupted message was not queued: no report to wait for
    p.close(timeout: 0)
    assert_equal 0, p.in_flight
  end

  def test_thread_raise_interrupts_a_flush_and_the_producer_stays_usable
    p = silent_producer(linger_ms: 0)
    p.produce("nowhere", "v")
    t = Thread.new do
      p.flush
      :returned
    rescue RuntimeError => e
      e.message
    end
    wait_until_blocked(t) # flush without a timeout: delivery_timeout_ms (120 s) at least
    started = now
    t.raise(RuntimeError, "stop")
    assert_equal "stop", t.value
    assert_operator now - started, :<, 10
    assert_equal 1, p.in_flight
    assert_equal 1, p.flush(timeout: 0.05) # still works
    p.close(timeout: 0)
  end

  def test_a_block_may_produce_and_what_it_raises_comes_out_of_the_call
    topic = create_topic("async-block")
    p = producer(linger_ms: 0)
    second = nil
    p.produce(topic, "first") { |_| second = p.produce(topic, "second") }
    p.produce(topic, "third") { |_| raise ArgumentError, "from the block" }
    assert_raises(ArgumentError) { p.flush(timeout: 20) while p.in_flight.positive? }
    assert_equal 0, p.flush(timeout: 20)
    assert_predicate second.wait(timeout: 0), :delivered?
  end

  # Values handed to produce are not copied: the producer keeps them alive (and unmoved) until
  # their reports, whatever the GC does meanwhile.
  def test_pending_values_survive_gc_and_compaction
    topic = create_topic("async-gc")
    p = producer(linger_ms: 200)
    200.times { |i| p.produce(topic, +"value-#{i}-#{'x' * (i % 100)}", key: +"key-#{i}") }
    GC.start(full_mark: true, immediate_sweep: true)
    GC.compact if GC.respond_to?(:compact)
    assert_equal 0, p.flush(timeout: 30)
    got = consume(topic, 0, 200)
    assert_equal (0...200).map { |i| "value-#{i}-#{'x' * (i % 100)}" }, got.map(&:value)
    assert_equal (0...200).map { |i| "key-#{i}" }, got.map(&:key)
  end

  def test_produce_poll_cycles_keep_rss_flat
    topic = create_topic("async-leak")
    p = producer(linger_ms: 1, required_acks: 1)
    value = ("0123456789abcdef" * 64).freeze
    served = 0
    cycle = lambda do |i|
      p.produce(topic, value, key: "k#{i}") { |_| served += 1 }
      p.poll(timeout: 0)
      p.flush(timeout: 30) if (i % 1000).zero?
    end
    warmup = [CYCLES / 10, 1].max
    warmup.times(&cycle)
    p.flush(timeout: 30)
    GC.start
    start = rss_kb
    (warmup...CYCLES).each(&cycle)
    assert_equal 0, p.flush(timeout: 60)
    GC.start
    growth = rss_kb - start
    puts format("\n  async produce/poll %d cycles: RSS +%d kB", CYCLES, growth)
    assert_equal CYCLES, served
    assert_operator growth, :<, 8 * 1024 unless VALGRIND # valgrind's own memory: its leak check counts there
  end

  def test_waits_go_through_the_fiber_scheduler_without_blocking_the_reactor
    topic = create_topic("async-fiber")
    p = producer(linger_ms: 600)
    p.produce(topic, "warm-up").wait(timeout: 20) # connected: the wait below is linger_ms
    ticks = []
    done_at = nil
    report = nil
    scheduler = TinyScheduler.new
    Thread.new do
      Fiber.set_scheduler(scheduler)
      Fiber.schedule do
        report = p.produce(topic, "from a fiber").wait(timeout: 20)
      ensure
        done_at = now # also ends the other fiber's loop if the wait raised
      end
      Fiber.schedule do # ticks for as long as the wait lasts
        until done_at
          sleep 0.02
          ticks << now
        end
      end
    end.join # the scheduler runs when the thread ends
    assert_predicate report, :delivered?
    # Events, not wall time: a wait that blocked the thread would have let this fiber start only
    # once it was over (no tick before done_at); several ticks show the reactor kept turning.
    assert_operator ticks.count { |t| t < done_at }, :>=, 3, "the other fiber did not run during the wait"
    assert_operator scheduler.io_waits, :>, 0
  end

  def test_flush_under_the_fiber_scheduler
    topic = create_topic("async-fiber-flush")
    p = producer(linger_ms: 600_000)
    left = nil
    Thread.new do
      Fiber.set_scheduler(TinyScheduler.new)
      Fiber.schedule do
        5.times { |i| p.produce(topic, "v#{i}") }
        left = p.flush(timeout: 20)
      end
    end.join
    assert_equal 0, left
    assert_equal 5, consume(topic, 0, 5).size
  end

  def test_a_child_after_fork_starts_with_an_empty_queue
    topic = create_topic("async-fork")
    p = producer(linger_ms: 600_000)
    parents = Array.new(5) { |i| p.produce(topic, "parent-#{i}") }
    reader, writer = IO.pipe
    pid = Process.fork do
      reader.close
      result = begin
        before = p.in_flight
        h = p.produce(topic, "child")
        left = p.flush(timeout: 20)
        state = [:ok, before, left, h.report&.delivered?, parents.first.done?]
        p.close(timeout: 0) # exit! runs no finalizer: free the child's engine here
        state
      rescue Exception => e # rubocop:disable Lint/RescueException
        [:error, "#{e.class}: #{e.message}"]
      end
      writer.write(Marshal.dump(result))
      writer.close
      exit!(0)
    end
    writer.close
    child = Marshal.load(reader.read) # rubocop:disable Security/MarshalLoad
    Process.wait(pid)
    assert_equal [:ok, 0, 0, true, true], child
    assert_equal 5, p.in_flight
    assert_equal 0, p.flush(timeout: 20)
    assert(parents.all? { |h| h.report.delivered? })
    assert_equal 6, consume(topic, 0, 6).size
  ensure
    reader&.close
  end
end
