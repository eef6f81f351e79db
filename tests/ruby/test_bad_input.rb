# frozen_string_literal: true

require "test_helper"

# Wrong arguments raise ArgumentError or TypeError; nothing crashes the process.
class TestBadInput < Minitest::Test
  include KafketteTest

  M = Kafkette::MessageToSend

  def test_message_to_send
    assert_raises(ArgumentError) { M.new(nil, "v") }
    assert_raises(TypeError) { M.new(:topic, "v") }
    assert_raises(TypeError) { M.new("t", 42) }
    assert_raises(TypeError) { M.new("t", "v", 42) }
    assert_raises(TypeError) { M.new("t", "v", nil, partition: "1") }
    assert_raises(ArgumentError) { M.new("t", "v", nil, partition: -1) }
    assert_raises(ArgumentError) { M.new("t", "v", nil, partition: 2**31) }
    assert_raises(ArgumentError) { M.new("t", "v", nil, partition: 2**80) }
    assert_raises(TypeError) { M.new("t", "v", nil, headers: [%w[a b]]) }
    assert_raises(TypeError) { M.new("t", "v", nil, headers: { a: "b" }) }
    assert_raises(TypeError) { M.new("t", "v", nil, headers: { "a" => 1 }) }
    assert_raises(TypeError) { M.new("t", "v", nil, timestamp: "now") }
    assert_raises(ArgumentError) { M.new("t", "v", nil, timestamp: -5) }
    assert_raises(ArgumentError) { M.new("t", "v", nil, bogus: 1) }
    assert_raises(ArgumentError) { M.new }
  end

  def test_producer_construction
    assert_raises(ArgumentError) { Kafkette::Producer.new(nil, "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(42, "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new([], "id") }
    assert_raises(TypeError) { Kafkette::Producer.new([42], "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(["localhost"], "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(["localhost:0"], "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(["localhost:65536"], "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(["localhost:99999999999999999999"], "id") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, nil) }
    assert_raises(TypeError) { Kafkette::Producer.new(BROKERS, 42) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id\0x") }
    assert_raises(TypeError) { Kafkette::Producer.new(BROKERS, "id", "options") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", bogus: 1) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", compression_codec: :brotli) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", required_acks: 2) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", type: :async) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", partitioner: :fnv) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", max_send_retries: -1) }
    assert_raises(TypeError) { Kafkette::Producer.new(BROKERS, "id", max_send_retries: "3") }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", max_request_bytes: 10) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", ack_timeout_ms: 2**40) }
    assert_raises(TypeError) { Kafkette::Producer.new(BROKERS, "id", compressed_topics: [1]) }
    assert_raises(TypeError) { Kafkette::Producer.new(BROKERS, "id", max_api_versions: [1]) }
    assert_raises(ArgumentError) { Kafkette::Producer.new(BROKERS, "id", max_api_versions: { 99 => 1 }) }
  end

  def test_send_messages
    p = Kafkette::Producer.new(BROKERS, "bad-send")
    assert_raises(ArgumentError) { p.send_messages(nil) }
    assert_raises(ArgumentError) { p.send_messages(42) }
    assert_raises(TypeError) { p.send_messages([42]) }
    assert_raises(TypeError) { p.send_messages([M.new("t", "v"), "not a message"]) }
    with_partitioner = Kafkette::Producer.new(BROKERS, "bad-send", partitioner: ->(_k, n) { n - 1 })
    assert_raises(TypeError) { with_partitioner.send_messages([M.new("t", "v", "k"), "not a message"]) }
    with_partitioner.close
    # what can change after the constructor checked it is checked again
    topic = +"t"
    odd = M.new(topic, "v", nil, headers: { "a" => "b" })
    topic.replace("nul\0topic")
    assert_raises(ArgumentError) { p.send_messages([odd]) }
    topic.replace("t")
    odd.headers["a"] = :b
    assert_raises(TypeError) { p.send_messages([odd]) }
    odd.headers.delete("a")
    odd.headers[1] = "x"
    assert_raises(TypeError) { p.send_messages([odd]) }
    odd.headers.clear
    assert_raises(ArgumentError) { p.send_messages([M.allocate]) } # never initialized
    assert_raises(TypeError) { odd.send(:initialize, "t", 42) } # a failed re-initialize changes nothing
    assert_equal "v", odd.value
    # the native entry points check their arguments too
    assert_raises(TypeError) { p.send(:_send, "x", nil) }
    assert_raises(TypeError) { p.send(:_send, [odd], "x") }
    assert_raises(RuntimeError) { p.send(:_setup, BROKERS.first, "id", {}) }
    # and after all that the producer works
    topic = create_topic("bad")
    assert p.send_messages([M.new(topic, "fine")])
    # a frozen message can be sent (its results are bookkeeping of the send, kept all the same)
    frozen = M.new(topic, "frozen").freeze
    assert p.send_messages([frozen])
    assert_equal 1, frozen.offset
    err = assert_raises(Kafkette::Errors::InvalidTopicException) { p.send_messages([M.new("", "empty topic")]) }
    assert_equal 17, err.code
    p.close
  end

  def test_partition_consumer_construction
    args = ["id", BROKER_HOST, BROKER_PORT, "t", 0, :earliest_offset]
    build = lambda do |**changes|
      a = args.dup
      changes.each { |i, v| a[%i[client_id host port topic partition offset].index(i)] = v }
      Kafkette::PartitionConsumer.new(*a)
    end
    assert_raises(ArgumentError) { build.call(port: 0) }
    assert_raises(ArgumentError) { build.call(port: 65_536) }
    assert_raises(ArgumentError) { build.call(port: -1) }
    assert_raises(TypeError) { build.call(port: "9092") }
    assert_raises(ArgumentError) { build.call(host: nil) }
    assert_raises(ArgumentError) { build.call(host: "") }
    assert_raises(TypeError) { build.call(host: 42) }
    assert_raises(ArgumentError) { build.call(topic: nil) }
    assert_raises(ArgumentError) { build.call(topic: "") }
    assert_raises(TypeError) { build.call(topic: :t) }
    assert_raises(ArgumentError) { build.call(topic: "t\0") }
    assert_raises(ArgumentError) { build.call(partition: -1) }
    assert_raises(ArgumentError) { build.call(partition: 2**31) }
    assert_raises(TypeError) { build.call(partition: "0") }
    assert_raises(TypeError) { build.call(partition: nil) }
    assert_raises(ArgumentError) { build.call(offset: :middle_offset) }
    assert_raises(ArgumentError) { build.call(offset: nil) }
    assert_raises(TypeError) { build.call(offset: "0") }
    assert_raises(ArgumentError) { build.call(offset: 2**70) }
    assert_raises(ArgumentError) { build.call(client_id: nil) }
    assert_raises(TypeError) { Kafkette::PartitionConsumer.new(*args, "opts") }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.new(*args, bogus: 1) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.new(*args, max_bytes: 0) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.new(*args, max_wait_ms: -1) }
    assert_raises(TypeError) { Kafkette::PartitionConsumer.new(*args, min_bytes: 1.5) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.new(*args, offset_reset: :smallest) }
    assert_raises(TypeError) { Kafkette::PartitionConsumer.new(*args, max_api_versions: [1]) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.new(*args, socket_timeout_ms: 0) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.new(*args, max_response_bytes: 0) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.consumer_for_partition("id", nil, "t", 0, 0) }
    assert_raises(ArgumentError) { Kafkette::PartitionConsumer.consumer_for_partition("id", ["h:0"], "t", 0, 0) }
  end

  def test_fetch_arguments
    c = Kafkette::PartitionConsumer.new("id", BROKER_HOST, BROKER_PORT, create_topic("fa"), 0, :earliest_offset)
    assert_raises(TypeError) { c.fetch(1) }
    assert_raises(ArgumentError) { c.fetch(bogus: 1) }
    assert_raises(ArgumentError) { c.fetch(max_bytes: 0) }
    assert_raises(ArgumentError) { c.fetch(max_wait_ms: -1) }
    assert_raises(ArgumentError) { c.fetch(min_bytes: 2**40) }
    assert_raises(TypeError) { c.fetch(max_wait_ms: "10") }
    assert_raises(TypeError) { c.send(:_fetch, "a", nil, nil) }
    assert_raises(RuntimeError) { c.send(:_setup, "h:1", "id", "t", 0, 0, 0, {}) }
    assert_equal [], c.fetch(max_wait_ms: 10), "still usable"
    c.close
  end

  def test_objects_that_were_never_set_up
    p = Kafkette::Producer.allocate
    assert p.closed?
    assert_raises(Kafkette::Errors::ProducerShutdownError) { p.send(:_send, [M.new("t", "v")], nil) }
    p.close
    c = Kafkette::PartitionConsumer.allocate
    assert_raises(Kafkette::Errors::ClosedError) { c.send(:_fetch, nil, nil, nil) }
    assert_raises(Kafkette::Errors::ClosedError) { c.next_offset }
    assert_nil c.highwater_mark
    c.close
    k = Kafkette::Client.allocate
    assert_raises(Kafkette::Errors::ClosedError) { k.send(:_partition_counts, ["t"]) }
    assert_raises(TypeError) { k.send(:_partition_counts, "t") }
    GC.start
  end

  def test_client_arguments
    assert_raises(ArgumentError) { Kafkette::Client.new(BROKERS, "id", bogus: 1) }
    assert_raises(TypeError) { Kafkette::Client.new(BROKERS, "id", max_api_versions: [1]) }
    assert_raises(ArgumentError) { Kafkette::Client.new(BROKERS, "id", socket_timeout_ms: 0) }
    assert_raises(TypeError) { Kafkette::Client.new(BROKERS, "id", connect_timeout_ms: "1") }
    assert_raises(TypeError) { admin.create_topic(42) }
    assert_raises(TypeError) { admin.create_topic(unique_topic("x"), partitions: "3") }
    assert_raises(ArgumentError) { admin.create_topic(unique_topic("x"), partitions: 2**40) }
    assert_raises(TypeError) { admin.partition_count(42) }
  end
end
