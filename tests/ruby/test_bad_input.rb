# frozen_string_literal: true

require "test_helper"

# Wrong options raise Errors::InvalidArgumentError (the core's message), other wrong arguments
# ArgumentError or TypeError; nothing crashes the process.
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

  IAE = Kafkette::Errors::InvalidArgumentError

  def test_producer_construction
    [nil, 42, [], [42], ["localhost"], ["localhost:0"], ["localhost:65536"], ["localhost:99999999999999999999"]].each do |b|
      assert_raises(IAE, b.inspect) { Kafkette::Producer.new(b, "id") }
    end
    assert_raises(IAE) { Kafkette::Producer.new(BROKERS, 42) }
    assert_raises(IAE) { Kafkette::Producer.new(BROKERS, "id\0x") }
    assert_raises(TypeError) { Kafkette::Producer.new(BROKERS, "id", "options") }
    [{ bogus: 1 }, { compression_codec: :brotli }, { required_acks: 2 }, { type: :fast }, { partitioner: :fnv },
     { max_send_retries: -1 }, { max_send_retries: "three" }, { max_request_bytes: 10 }, { ack_timeout_ms: 2**40 },
     { compressed_topics: [1] }, { max_api_versions: [1] }, { max_api_versions: { 99 => 1 } }, { 1 => 2 },
     { max_bytes: 1 }].each do |options|
      assert_raises(IAE, options.inspect) { Kafkette::Producer.new(BROKERS, "id", options) }
    end
    # Symbol or String keys and values; nil is the default
    Kafkette::Producer.new(BROKERS, "id", "compression_codec" => "gzip", required_acks: :all, partitioner: nil).close
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
    assert_raises(TypeError) { p.send(:_send, "x") }
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
    assert_raises(IAE) { build.call(port: 0) }
    assert_raises(IAE) { build.call(port: 65_536) }
    assert_raises(IAE) { build.call(port: -1) }
    assert_raises(TypeError) { build.call(port: "9092") }
    assert_raises(ArgumentError) { build.call(host: nil) }
    assert_raises(IAE) { build.call(host: "") }
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
    assert_raises(IAE) { build.call(client_id: 42) }
    assert_raises(TypeError) { Kafkette::PartitionConsumer.new(*args, "opts") }
    [{ bogus: 1 }, { max_bytes: 0 }, { max_wait_ms: -1 }, { min_bytes: 1.5 }, { offset_reset: :smallest },
     { max_api_versions: [1] }, { socket_timeout_ms: 0 }, { max_response_bytes: 0 }, { compression_codec: :gzip }].each do |o|
      assert_raises(IAE, o.inspect) { Kafkette::PartitionConsumer.new(*args, o) }
    end
    assert_raises(IAE) { Kafkette::PartitionConsumer.consumer_for_partition("id", nil, "t", 0, 0) }
    assert_raises(IAE) { Kafkette::PartitionConsumer.consumer_for_partition("id", ["h:0"], "t", 0, 0) }
  end

  def test_fetch_arguments
    c = Kafkette::PartitionConsumer.new("id", BROKER_HOST, BROKER_PORT, create_topic("fa"), 0, :earliest_offset)
    assert_raises(TypeError) { c.fetch(1) }
    [{ bogus: 1 }, { max_bytes: 0 }, { max_wait_ms: -1 }, { min_bytes: 2**40 }, { max_wait_ms: "ten" },
     { read_committed: true }].each do |o|
      assert_raises(IAE, o.inspect) { c.fetch(o) }
    end
    assert_raises(TypeError) { c.send(:_fetch, "a") }
    assert_raises(RuntimeError) { c.send(:_setup, "h:1", "id", "t", 0, 0, 0, {}) }
    assert_equal [], c.fetch(max_wait_ms: 10), "still usable"
    c.close
  end

  def test_objects_that_were_never_set_up
    p = Kafkette::Producer.allocate
    assert p.closed?
    assert_raises(Kafkette::Errors::ProducerShutdownError) { p.send(:_send, [M.new("t", "v")]) }
    p.close
    c = Kafkette::PartitionConsumer.allocate
    assert_raises(Kafkette::Errors::ConsumerClosedError) { c.send(:_fetch, nil) }
    assert_raises(Kafkette::Errors::ClosedError) { c.next_offset }
    assert_nil c.highwater_mark
    c.close
    k = Kafkette::Client.allocate
    assert_raises(Kafkette::Errors::ClosedError) { k.send(:_partition_counts, ["t"]) }
    assert_raises(TypeError) { k.send(:_partition_counts, "t") }
    GC.start
  end

  def test_client_arguments
    [{ bogus: 1 }, { max_api_versions: [1] }, { socket_timeout_ms: 0 }, { connect_timeout_ms: "one" }].each do |o|
      assert_raises(IAE, o.inspect) { Kafkette::Client.new(BROKERS, "id", o) }
    end
    assert_raises(TypeError) { admin.create_topic(42) }
    assert_raises(TypeError) { admin.create_topic(unique_topic("x"), partitions: "3") }
    assert_raises(ArgumentError) { admin.create_topic(unique_topic("x"), partitions: 2**40) }
    assert_raises(TypeError) { admin.partition_count(42) }
  end
end
