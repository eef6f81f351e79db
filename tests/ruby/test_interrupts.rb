# frozen_string_literal: true

require "test_helper"

# Waits run without the GVL and stop promptly for Ctrl-C, Thread#raise and Timeout.
class TestInterrupts < Minitest::Test
  include KafketteTest

  class Stop < StandardError; end

  # How long an interruption may take to land (generous under valgrind).
  PROMPT = VALGRIND ? 3.0 : 0.5

  def setup
    @topic = create_topic("intr")
    @consumers = []
  end

  def teardown
    @consumers.each(&:close)
  end

  # A consumer at the end of an empty topic, connected, so fetch waits max_wait_ms on the broker.
  def waiting_consumer(topic = @topic)
    c = Kafkette::PartitionConsumer.new("intr", BROKER_HOST, BROKER_PORT, topic, 0, :latest_offset, max_wait_ms: 5000)
    c.connect
    @consumers << c
    c
  end

  def assert_usable(consumer)
    started = now
    assert_equal [], consumer.fetch(max_wait_ms: 100)
    assert_operator now - started, :<, 3.0
  end

  def test_thread_raise_stops_a_waiting_fetch
    c = waiting_consumer
    result = Queue.new
    t = Thread.new do
      c.fetch(max_wait_ms: 5000)
      result << :returned
    rescue Stop
      result << now
    end
    sleep 0.3
    raised_at = now
    t.raise(Stop)
    stopped_at = result.pop
    t.join
    refute_equal :returned, stopped_at
    assert_operator stopped_at - raised_at, :<, PROMPT
    assert_usable c
  end

  def test_timeout_stops_a_waiting_fetch
    c = waiting_consumer
    started = now
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { c.fetch(max_wait_ms: 5000) } }
    assert_operator now - started, :<, 0.3 + PROMPT
    assert_usable c
  end

  def test_sigint_stops_a_waiting_fetch_in_the_main_thread
    assert_same Thread.main, Thread.current
    c = waiting_consumer
    sent_at = nil
    killer = Thread.new do
      sleep 0.3
      sent_at = now
      Process.kill("INT", Process.pid)
    end
    assert_raises(Interrupt) { c.fetch(max_wait_ms: 5000) }
    assert_operator now - sent_at, :<, PROMPT
    killer.join
    assert_usable c
  end

  def test_a_trap_handler_that_does_not_raise_lets_the_fetch_go_on
    c = waiting_consumer
    trapped = false
    old = trap("USR1") { trapped = true }
    begin
      Thread.new do
        sleep 0.2
        Process.kill("USR1", Process.pid)
      end
      started = now
      assert_equal [], c.fetch(max_wait_ms: 800)
      assert trapped
      assert_operator now - started, :>=, 0.7, "the fetch resumed its wait after the handler"
    ensure
      trap("USR1", old || "DEFAULT")
    end
  end

  def test_a_waiting_send_is_interrupted_and_the_producer_stays_usable
    p = Kafkette::Producer.new(BROKERS, "intr-send", allow_auto_topic_creation: false, topic_wait_ms: 10_000)
    m = Kafkette::MessageToSend.new(unique_topic("never"), "v")
    started = now
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { p.send_messages([m]) } }
    assert_operator now - started, :<, 0.3 + PROMPT
    assert_equal Kafkette::Native::ERR_INTERRUPTED, m.error_code
    ok = Kafkette::MessageToSend.new(@topic, "after")
    assert p.send_messages([ok])
    assert_equal 0, ok.offset
    p.close
  end

  def test_a_trap_during_a_send_resends_what_it_stopped
    p = Kafkette::Producer.new(BROKERS, "intr-trap", allow_auto_topic_creation: false, topic_wait_ms: 1500,
                                                     retry_backoff_ms: 50)
    topic = unique_topic("late")
    msgs = Array.new(3) { |i| Kafkette::MessageToSend.new(topic, "v#{i}") }
    trapped = false
    old = trap("USR2") { trapped = true }
    begin
      Thread.new do
        sleep 0.2
        Process.kill("USR2", Process.pid)
        sleep 0.2
        admin.create_topic(topic, partitions: 1)
      end
      assert p.send_messages(msgs)
      assert trapped
      assert_equal [0, 1, 2], msgs.map(&:offset)
    ensure
      trap("USR2", old || "DEFAULT")
      p.close
    end
  end

  def test_other_threads_run_while_a_fetch_waits
    c = waiting_consumer
    ticks = 0
    running = true
    counter = Thread.new do
      while running
        ticks += 1
        sleep 0.01
      end
    end
    c.fetch(max_wait_ms: 600)
    running = false
    counter.join
    assert_operator ticks, :>=, 20, "the GVL must be released while the fetch waits"
  end

  def test_fetches_in_parallel_threads_overlap
    a = waiting_consumer
    b = waiting_consumer(create_topic("intr-b"))
    started = now
    [a, b].map { |c| Thread.new { c.fetch(max_wait_ms: 1000) } }.each(&:join)
    assert_operator now - started, :<, 1.8, "two 1 s waits in two threads take about 1 s, not 2"
  end

  def test_close_from_another_thread_stops_a_waiting_fetch
    c = waiting_consumer
    closer = Thread.new do
      sleep 0.3
      c.close
      now
    end
    assert_raises(Kafkette::Errors::ClosedError) { c.fetch(max_wait_ms: 5000) }
    assert_operator now - closer.value, :<, PROMPT
    assert c.closed?
  end

  def test_calls_from_several_threads_take_turns
    c = waiting_consumer
    t = Thread.new { c.fetch(max_wait_ms: 1000) }
    sleep 0.2
    started = now
    assert_equal [], c.fetch(max_wait_ms: 10), "waits for the other thread's fetch instead of failing"
    assert_operator now - started, :>=, 0.6
    assert_equal [], t.value
    assert_usable c

    # many threads sending on one producer: every message delivered, offsets all different
    p = Kafkette::Producer.new(BROKERS, "turns", required_acks: 1)
    threads = Array.new(4) do |n|
      Thread.new { Array.new(10) { |i| Kafkette::MessageToSend.new(@topic, "#{n}-#{i}").tap { |m| p.send_messages([m]) } } }
    end
    offsets = threads.flat_map(&:value).map(&:offset)
    assert_equal 40, offsets.uniq.size
    p.close
  end

  def test_close_from_another_thread_wakes_a_call_waiting_for_the_lock
    c = waiting_consumer
    first = Thread.new do
      Thread.current.report_on_exception = false
      c.fetch(max_wait_ms: 5000)
    end
    sleep 0.2
    second = Thread.new do
      Thread.current.report_on_exception = false
      c.fetch(max_wait_ms: 5000)
    end
    sleep 0.2
    started = now
    c.close
    [first, second].each do |t|
      assert_raises(Kafkette::Errors::ConsumerClosedError) { t.value }
    end
    assert_operator now - started, :<, PROMPT
    assert_raises(Kafkette::Errors::ConsumerClosedError) { c.fetch }
  end

  def test_many_threads_with_their_own_objects
    topics = Array.new(4) { create_topic("mt") }
    threads = topics.map.with_index do |topic, n|
      Thread.new do
        p = Kafkette::Producer.new(BROKERS, "mt-#{n}")
        20.times { |i| p.send_messages(Array.new(10) { |j| Kafkette::MessageToSend.new(topic, "#{n}-#{i}-#{j}") }) }
        p.close
        consume(topic, 0, 200).size
      end
    end
    assert_equal [200] * 4, threads.map(&:value)
  end
end
