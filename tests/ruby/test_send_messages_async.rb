# frozen_string_literal: true

require "test_helper"

# Producer.new(..., type: :async).send_messages against the real broker: it queues through
# produce's engine and returns before delivery; flush, poll, close and the next send_messages
# fill each MessageToSend's partition, offset and error_code, and raise (and log) what was not
# delivered.
class TestSendMessagesAsync < Minitest::Test
  include KafketteTest

  M = Kafkette::MessageToSend
  E = Kafkette::Errors
  PURGED = -125
  INVALID_PARTITION = -118
  MESSAGE_TOO_LARGE = 10

  def producer(brokers = BROKERS, **options)
    @producers ||= []
    (@producers << Kafkette::Producer.new(brokers, "kafkette-ruby-async-send", type: :async, **options)).last
  end

  def teardown
    (@producers || []).each do |p|
      p.close
    rescue Kafkette::Error
      nil # a test left a failure unraised on purpose
    end
    Kafkette.logger = nil
  end

  # Waits until reports wait for a drain, without draining them (the event fd).
  def wait_for_reports(producer, timeout = 30)
    io = IO.for_fd(producer.__send__(:_event_fd), autoclose: false)
    assert io.wait_readable(timeout), "no report within #{timeout} s"
  end

  def test_the_type_option_is_taken_and_checked
    [:async, "async", :ASYNC, :sync, nil].each do |type|
      Kafkette::Producer.new(BROKERS, "id", type: type).close
    end
    err = assert_raises(E::InvalidArgumentError) { Kafkette::Producer.new(BROKERS, "id", type: :fast) }
    assert_equal "option 'type' takes one of 'sync', 'async', not 'fast'", err.message
  end

  def test_returns_before_delivery_and_flush_fills_every_offset_in_order
    topic = create_topic("async-send")
    msgs = Array.new(50) { |i| M.new(topic, "v#{i}", "k#{i}") }
    p = producer(linger_ms: 600_000, batch_size: 100_000_000)
    assert_equal true, p.send_messages(msgs)
    # linger_ms holds the batch: nothing can have been delivered yet
    assert_equal 50, p.in_flight
    assert(msgs.all? { |m| m.offset.nil? && !m.delivered? })
    assert_equal 0, p.flush(timeout: 30)
    assert_equal 0, p.in_flight
    assert_equal (0...50).to_a, msgs.map(&:offset)
    assert_equal [0], msgs.map(&:partition).uniq
    assert(msgs.all?(&:delivered?))
    got = consume(topic, 0, 50)
    assert_equal(Array.new(50) { |i| ["k#{i}", "v#{i}"] }, got.map { |m| [m.key, m.value] })
  end

  def test_a_bad_message_refuses_the_whole_list_before_anything_is_queued
    topic = create_topic("async-send-bad")
    good = M.new(topic, "good")
    p = producer
    assert_raises(TypeError) { p.send_messages([good, "not a message"]) }
    assert_equal 0, p.in_flight
    assert_nil p.send_messages([])
    assert_equal 0, p.flush(timeout: 5)
    assert_nil good.offset
    assert_empty consume(topic, 0, 1, timeout: 2)
  end

  def test_a_failure_is_raised_by_the_next_flush_and_logged
    topic = unique_topic("async-send-small")
    admin.create_topic(topic, partitions: 1, replication_factor: 1, configs: { "max.message.bytes" => "2000" })
    wait_until_led(topic, 1)
    log = StringIO.new
    Kafkette.logger = Logger.new(log)
    big = M.new(topic, "big" * 10_000)
    p = producer(max_send_retries: 0)
    assert_equal true, p.send_messages([big])
    err = assert_raises(E::MessageTooLarge) { p.flush(timeout: 30) }
    assert_equal [big], err.failed_messages
    assert_equal MESSAGE_TOO_LARGE, err.code
    assert_match(/1 of 1 messages sent asynchronously not delivered/, err.message)
    assert_equal 0, p.flush(timeout: 30) # raised once, not again
    assert_nil big.offset
    assert_equal MESSAGE_TOO_LARGE, big.error_code
    lines = log.string.lines.grep(/send_messages \(type async\)/)
    assert_equal 1, lines.size
    assert_match(/WARN.*#{topic}.*MESSAGE_TOO_LARGE/, lines.first)
  end

  def test_a_partial_failure_raises_failed_to_send_messages_listing_the_failed_one
    topic = create_topic("async-send-partial")
    ok = M.new(topic, "ok", partition: 0)
    nowhere = M.new(topic, "x", partition: 7)
    p = producer
    assert_equal true, p.send_messages([ok, nowhere])
    err = assert_raises(E::FailedToSendMessages) { p.flush(timeout: 30) }
    assert_equal [nowhere], err.failed_messages
    assert_equal INVALID_PARTITION, nowhere.error_code
    assert_equal 0, ok.offset
    assert_nil nowhere.offset
  end

  def test_the_next_send_messages_raises_an_earlier_failure_and_queues_nothing
    topic = create_topic("async-send-next")
    nowhere = M.new(topic, "x", partition: 7)
    later = M.new(topic, "later")
    p = producer
    p.send_messages([nowhere])
    wait_for_reports(p)
    err = assert_raises(E::InvalidPartitionError) { p.send_messages([later]) }
    assert_equal [nowhere], err.failed_messages
    assert_equal 0, p.in_flight # `later` was not queued
    assert_equal true, p.send_messages([later]) # the failure was raised once
    assert_equal 0, p.flush(timeout: 30)
    assert_equal 0, later.offset
    assert_equal ["later"], consume(topic, 0, 1).map(&:value)
  end

  def test_poll_raises_a_failure_it_serves
    topic = create_topic("async-send-poll")
    p = producer
    p.send_messages([M.new(topic, "x", partition: 7)])
    wait_for_reports(p)
    assert_raises(E::InvalidPartitionError) { p.poll }
    assert_equal 0, p.poll
  end

  def test_close_flushes_so_every_message_gets_its_offset
    topic = create_topic("async-send-close")
    msgs = Array.new(20) { |i| M.new(topic, i.to_s) }
    p = producer(linger_ms: 600_000, batch_size: 100_000_000)
    p.send_messages(msgs)
    assert_equal 20, p.in_flight
    p.close
    assert_equal (0...20).to_a, msgs.map(&:offset)
  end

  def test_close_raises_the_messages_it_purged
    msgs = Array.new(5) { |i| M.new("nowhere", i.to_s) }
    p = producer(["127.0.0.1:1"], connect_timeout_ms: 200)
    p.send_messages(msgs)
    err = assert_raises(E::ClosedError) { p.close(timeout: 0) }
    assert_equal PURGED, err.code
    assert_predicate p, :closed?
    assert_equal msgs, err.failed_messages
    assert(msgs.all? { |m| m.offset.nil? && m.error_code == PURGED })
    p.close # raised once
  end

  def test_a_full_buffer_refuses_the_rest_of_the_list
    p = producer(["127.0.0.1:1"], buffer_memory: 1024, max_block_ms: 0, connect_timeout_ms: 200)
    msgs = Array.new(20) { M.new("nowhere", "x" * 200) }
    err = assert_raises(E::TimedOutError) { p.send_messages(msgs) }
    queued = p.in_flight
    assert_operator queued, :>, 0
    assert_operator queued, :<, 20
    assert_equal msgs[queued..], err.failed_messages
    err = assert_raises(E::ClosedError) { p.close(timeout: 0) }
    assert_equal msgs[0...queued], err.failed_messages
  end
end
