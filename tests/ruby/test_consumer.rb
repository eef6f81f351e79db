# frozen_string_literal: true

require "test_helper"

class TestConsumer < Minitest::Test
  include KafketteTest

  def setup
    @consumers = []
  end

  def teardown
    @consumers.each(&:close)
  end

  def consumer(topic, offset, partition: 0, **options)
    (@consumers << Kafkette::PartitionConsumer.new("kafkette-ruby-consumer", BROKER_HOST, BROKER_PORT, topic,
                                                   partition, offset, options)).last
  end

  # n messages "value-i" keyed "key-i", in `sends` separate requests (so separate batches)
  def produce(topic, n, sends: 1, base_time: nil, partition: nil)
    p = Kafkette::Producer.new(BROKERS, "kafkette-ruby-consumer-feed")
    msgs = Array.new(n) do |i|
      Kafkette::MessageToSend.new(topic, "value-#{i}", "key-#{i}", partition: partition,
                                                                   timestamp: base_time && (base_time + (i * 1000)))
    end
    msgs.each_slice((n.to_f / sends).ceil) { |slice| p.send_messages(slice) }
    p.close
    msgs
  end

  def drain(c, want, tries: 50, **fetch_options)
    got = []
    tries.times do
      break if got.size >= want

      got.concat(c.fetch(fetch_options))
    end
    got
  end

  def test_offset_forms
    topic = create_topic("offsets")
    base = 1_700_000_000_000
    produce(topic, 100, base_time: base)

    c = consumer(topic, :earliest_offset)
    got = drain(c, 100)
    assert_equal (0...100).to_a, got.map(&:offset)
    assert_equal "value-42", got[42].value
    assert_equal "key-42", got[42].key
    assert_equal base + 42_000, got[42].timestamp
    assert_equal 100, c.next_offset
    assert_equal 100, c.highwater_mark
    assert_equal 0, c.log_start_offset

    assert_equal (90...100).to_a, drain(consumer(topic, -10), 10).map(&:offset)
    assert_equal (42...100).to_a, drain(consumer(topic, 42), 58).map(&:offset)
    assert_equal 100, consumer(topic, :latest_offset).next_offset
    assert_equal [], consumer(topic, :latest_offset).fetch(max_wait_ms: 10)
    at_time = consumer(topic, Time.at((base + 49_500) / 1000r))
    assert_equal 50, at_time.next_offset
    assert_equal 50, at_time.offset # Poseidon's name
    assert_equal 0, consumer(topic, -1000).next_offset, "more than there is: from the start"
  end

  def test_fetch_options_and_per_call_overrides
    topic = create_topic("limits")
    produce(topic, 40, sends: 40) # 40 batches of one record
    c = consumer(topic, :earliest_offset, max_bytes: 100)
    first = c.fetch
    assert_operator first.size, :>=, 1
    assert_operator first.size, :<, 40, "max_bytes 100 must limit the fetch"
    rest = c.fetch(max_bytes: 1 << 20)
    assert_equal 40, first.size + rest.size
    assert_equal (0...40).to_a, (first + rest).map(&:offset)
    assert_nil consumer(topic, :earliest_offset).highwater_mark, "nil before the first fetch"
  end

  def test_max_wait_and_min_bytes_on_an_empty_topic
    topic = create_topic("wait")
    c = consumer(topic, :latest_offset, max_wait_ms: 600, min_bytes: 1, socket_timeout_ms: 5000,
                                        connect_timeout_ms: 5000, failover_tries: 2, retry_backoff_ms: 50,
                                        read_committed: true, max_response_bytes: 1 << 20)
    c.connect
    started = now
    assert_equal [], c.fetch
    assert_includes 0.5..4.0, now - started
    started = now
    assert_equal [], c.fetch(min_bytes: 0, max_wait_ms: 5000)
    assert_operator now - started, :<, 1.0, "min_bytes 0 answers at once"
  end

  def test_offset_reset_policies
    topic = create_topic("reset")
    produce(topic, 10)
    err = assert_raises(Kafkette::Errors::OffsetOutOfRange) { consumer(topic, 1000, offset_reset: :error).fetch }
    assert_equal 1, err.code
    assert_equal (0...10).to_a, drain(consumer(topic, 1000, offset_reset: :earliest), 10).map(&:offset)
    latest = consumer(topic, 1000, offset_reset: :latest)
    assert_equal [], latest.fetch(max_wait_ms: 10)
    assert_equal 10, latest.next_offset
    default = consumer(topic, 500)
    assert_equal 10, drain(default, 10).size, "kafkette's default policy is :earliest"
  end

  def test_records_deleted_under_the_consumer
    topic = create_topic("deleted")
    produce(topic, 20)
    c = consumer(topic, 5, offset_reset: :error)
    assert_equal 5, c.next_offset
    assert_equal 12, admin.delete_records(topic, 0, 12)
    assert_raises(Kafkette::Errors::OffsetOutOfRange) { c.fetch }
    assert_equal (12...20).to_a, drain(consumer(topic, 5), 8).map(&:offset)
  end

  def test_each_yields_messages_as_they_arrive
    topic = create_topic("each")
    c = consumer(topic, :earliest_offset, max_wait_ms: 200)
    feeder = Thread.new do
      3.times do
        sleep 0.15
        produce(topic, 1)
      end
    end
    got = c.each.first(3)
    feeder.join
    assert_equal [0, 1, 2], got.map(&:offset)
    assert_kind_of Enumerator, c.each
    assert_includes c.class.ancestors, Enumerable

    # each stops quietly when the consumer is closed from inside or from another thread
    seen = []
    c2 = consumer(topic, :earliest_offset, max_wait_ms: 100)
    c2.each do |m|
      seen << m.offset
      c2.close if seen.size == 2
    end
    assert_equal [0, 1], seen
    c3 = consumer(topic, :latest_offset, max_wait_ms: 5000)
    closer = Thread.new do
      sleep 0.3
      c3.close
    end
    started = now
    assert_same c3, (c3.each { flunk "nothing was produced" })
    assert_operator now - started, :<, 2.0
    closer.join
  end

  def test_headers_and_encodings
    topic = create_topic("headers")
    p = Kafkette::Producer.new(BROKERS, "h")
    p.send_messages([Kafkette::MessageToSend.new(topic, "v", "k", headers: { "a" => "1", "ü" => "\xff".b, "n" => nil }),
                     Kafkette::MessageToSend.new(topic, "plain")])
    p.close
    got = drain(consumer(topic, :earliest_offset), 2)
    assert_equal({ "a" => "1", "ü" => "\xff".b, "n" => nil }, got[0].headers)
    assert_equal Encoding::UTF_8, got[0].headers.keys[1].encoding
    assert_equal Encoding::BINARY, got[0].headers["a"].encoding
    assert_equal({}, got[1].headers)
    assert got[1].headers.frozen?
    assert_equal topic, got[0].topic
    assert got[0].topic.frozen?
  end

  def test_consumer_for_partition
    topic = create_topic("cfp", partitions: 3)
    produce(topic, 5, partition: 2)
    c = Kafkette::PartitionConsumer.consumer_for_partition("cfp", BROKERS, topic, 2, :earliest_offset, max_wait_ms: 100)
    @consumers << c
    assert_instance_of Kafkette::PartitionConsumer, c
    assert_equal 0, c.next_offset
    assert_equal 5, drain(c, 5).size
    assert_equal [BROKER_HOST, BROKER_PORT], [c.host, c.port]
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) do
      Kafkette::PartitionConsumer.consumer_for_partition("cfp", BROKERS, topic, 3, :earliest_offset)
    end
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) do
      Kafkette::PartitionConsumer.consumer_for_partition("cfp", BROKERS.join(","), unique_topic("none"), 0, 0)
    end
  end

  def test_missing_topic_and_partition
    err = assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { consumer(unique_topic("missing"), 0).fetch }
    assert_equal 3, err.code
    topic = create_topic("onepart")
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { consumer(topic, 0, partition: 4).fetch }
  end

  def test_close
    topic = create_topic("close")
    c = consumer(topic, :earliest_offset)
    c.close
    c.close
    assert c.closed?
    assert_raises(Kafkette::Errors::ClosedError) { c.fetch }
    assert_raises(Kafkette::Errors::ClosedError) { c.next_offset }
    assert_nil c.highwater_mark
  end

  def test_large_batch_round_trip_with_compression
    topic = create_topic("bulk")
    p = Kafkette::Producer.new(BROKERS, "bulk", compression_codec: :lz4)
    payload = "p" * 100
    msgs = Array.new(20_000) { |i| Kafkette::MessageToSend.new(topic, "#{i}:#{payload}") }
    assert p.send_messages(msgs)
    p.close
    got = drain(consumer(topic, :earliest_offset), 20_000, tries: 200)
    assert_equal 20_000, got.size
    assert_equal "19999:#{payload}", got.last.value
    assert_equal (0...20_000).to_a, got.map(&:offset)
  end
end
