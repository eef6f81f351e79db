# frozen_string_literal: true

require "test_helper"

class TestProducer < Minitest::Test
  include KafketteTest

  def producer(options = {})
    @producers ||= []
    (@producers << Kafkette::Producer.new(BROKERS, "kafkette-ruby-producer", options)).last
  end

  def teardown
    (@producers || []).each(&:close)
  end

  def numbered(topic, n, prefix: "v", **kw)
    Array.new(n) { |i| Kafkette::MessageToSend.new(topic, "#{prefix}-#{i}", "k-#{i}", **kw) }
  end

  def test_murmur2_helper_matches_published_vectors
    assert_equal 0xd067cf64, murmur2("kafka")
    assert_equal 0x9fc97b14, murmur2("1234")
    assert_equal 0x106e08d9, murmur2("")
  end

  def test_round_trip_with_every_codec
    %i[none gzip snappy lz4 zstd].each do |codec|
      topic = create_topic("codec-#{codec}")
      p = producer(compression_codec: codec)
      values = Array.new(300) { |i| "#{codec}-#{i}-" + ("x" * (i % 50)) }
      msgs = values.each_with_index.map do |v, i|
        Kafkette::MessageToSend.new(topic, v, "key-#{i}", headers: { "n" => i.to_s, "nil" => nil })
      end
      assert_equal true, p.send_messages(msgs)
      assert_equal (0...300).to_a, msgs.map(&:offset), codec.to_s
      got = consume(topic, 0, 300)
      assert_equal values, got.map(&:value), codec.to_s
      assert_equal (0...300).map { |i| "key-#{i}" }, got.map(&:key)
      assert_equal({ "n" => "7", "nil" => nil }, got[7].headers)
      assert(got.all? { |m| m.value.encoding == Encoding::BINARY && m.key.encoding == Encoding::BINARY })
    end
  end

  def test_string_codec_names_and_compressed_topics
    plain = create_topic("plain")
    squeezed = create_topic("squeezed")
    p = producer(compression_codec: "GZIP", compressed_topics: [squeezed])
    assert p.send_messages(numbered(plain, 20) + numbered(squeezed, 20))
    assert_equal 20, consume(plain, 0, 20).size
    assert_equal 20, consume(squeezed, 0, 20).size
  end

  def test_send_reports_partition_and_offset_and_returns_nil_for_nothing
    topic = create_topic("po", partitions: 3)
    p = producer
    assert_nil p.send_messages([])
    msgs = Array.new(30) { |i| Kafkette::MessageToSend.new(topic, "v#{i}") } # keyless: spread
    assert p.send_messages(msgs)
    assert(msgs.all? { |m| (0..2).cover?(m.partition) && m.offset.is_a?(Integer) && m.delivered? })
    by_partition = msgs.group_by(&:partition)
    assert_operator by_partition.size, :>, 1, "keyless messages should spread over partitions"
    by_partition.each { |_, ms| assert_equal (0...ms.size).to_a, ms.map(&:offset).sort }
    # any Enumerable works, and the messages can be sent again
    assert p.send_messages(msgs.each_slice(1).map(&:first).each)
  end

  def test_explicit_partition_null_value_empty_key_and_timestamp
    topic = create_topic("explicit", partitions: 2)
    at = Time.at(1_700_000_123, 456_000)
    msgs = [Kafkette::MessageToSend.new(topic, nil, "tombstone", partition: 1),
            Kafkette::MessageToSend.new(topic, "", "", partition: 1, timestamp: at),
            Kafkette::MessageToSend.new(topic, "\x00\xff binary".b, nil, partition: 1, timestamp: 1_700_000_000_000)]
    assert producer.send_messages(msgs)
    assert_equal [1, 1, 1], msgs.map(&:partition)
    assert_equal 1, msgs.first.requested_partition
    got = consume(topic, 1, 3)
    assert_nil got[0].value
    assert_equal "tombstone", got[0].key
    assert_equal "", got[1].value
    assert_equal "", got[1].key
    assert_equal 1_700_000_123_456, got[1].timestamp
    assert_equal at, got[1].time
    assert_equal "\x00\xff binary".b, got[2].value
    assert_nil got[2].key
    assert_equal 1_700_000_000_000, got[2].timestamp
    assert_equal [topic, 1], [got[0].topic, got[0].partition]
  end

  def test_keys_follow_murmur2_by_default
    topic = create_topic("murmur", partitions: 7)
    keys = Array.new(60) { |i| "user-#{i}-#{i * 7919}" }
    msgs = keys.map { |k| Kafkette::MessageToSend.new(topic, "v", k) }
    assert producer.send_messages(msgs)
    keys.zip(msgs).each { |k, m| assert_equal murmur2_partition(k, 7), m.partition, k }
    # and the broker has them there
    m = msgs[5]
    assert_includes consume(topic, m.partition, msgs.count { |x| x.partition == m.partition }).map(&:key), m.key
  end

  def test_crc32_partitioner_option
    topic = create_topic("crc", partitions: 5)
    keys = Array.new(40) { |i| "k#{i}" }
    msgs = keys.map { |k| Kafkette::MessageToSend.new(topic, "v", k) }
    assert producer(partitioner: :crc32).send_messages(msgs)
    keys.zip(msgs).each { |k, m| assert_equal Zlib.crc32(k) % 5, m.partition }
  end

  def test_callable_partitioner
    topic = create_topic("callable", partitions: 4)
    seen = []
    part = lambda do |key, count|
      seen << [key, count]
      key.to_i % count
    end
    p = producer(partitioner: part)
    msgs = Array.new(12) { |i| Kafkette::MessageToSend.new(topic, "v#{i}", i.to_s) }
    msgs << Kafkette::MessageToSend.new(topic, "fixed", "99", partition: 0) # explicit wins
    msgs << Kafkette::MessageToSend.new(topic, "keyless")                   # round robin
    assert p.send_messages(msgs)
    12.times { |i| assert_equal i % 4, msgs[i].partition }
    assert_equal 0, msgs[12].partition
    assert_equal 12, seen.size
    assert(seen.all? { |_, count| count == 4 })

    # the core calls it, once per keyed message; anything but an Integer in range fails that
    # message (the others are delivered)
    [->(_key, count) { count }, ->(_key, _count) { -1 }, ->(_key, _count) { "1" }, ->(_key, _count) { 1.0 }].each do |wrong|
      bad = producer(partitioner: wrong)
      m = Kafkette::MessageToSend.new(topic, "v", "k")
      fine = Kafkette::MessageToSend.new(topic, "v", nil, partition: 1)
      err = assert_raises(Kafkette::Errors::InvalidPartitionError) { bad.send_messages([m, fine]) }
      assert_equal [m], err.failed_messages
      assert_nil m.offset
      assert_equal Kafkette::Native::ERR_INVALID_PARTITION, m.error_code
      assert fine.delivered?
    end

    # an exception is raised by send_messages once the send returned; the other messages' fates are kept
    calls = 0
    boom = producer(partitioner: lambda do |key, _count|
      calls += 1
      raise IOError, "partitioner failed" if key == "boom"

      0
    end)
    msgs = [Kafkette::MessageToSend.new(topic, "v", "boom"), Kafkette::MessageToSend.new(topic, "v", nil, partition: 2)]
    assert_raises(IOError) { boom.send_messages(msgs) }
    refute msgs[0].delivered?
    assert msgs[1].delivered?
    assert boom.send_messages([Kafkette::MessageToSend.new(topic, "v", "k")]), "the producer stays usable"
    assert_equal 2, calls

    # a block-less object with #call works, and so does a Method
    assert producer(partitioner: Struct.new(:x) { def call(_k, n) = n - 1 }.new(0)).send_messages(
      [Kafkette::MessageToSend.new(topic, "v", "k")]
    )
  end

  def test_partitioner_calling_its_own_producer_raises_runtime_error
    topic = create_topic("reenter", partitions: 2)
    p = nil
    p = producer(partitioner: lambda do |_key, _count|
      p.send_messages([Kafkette::MessageToSend.new(topic, "inner")])
      0
    end)
    err = assert_raises(RuntimeError) { p.send_messages([Kafkette::MessageToSend.new(topic, "v", "k")]) }
    assert_match(/inside one of its own calls/, err.message)
    assert p.send_messages([Kafkette::MessageToSend.new(topic, "v")]), "still usable"
  end

  def test_required_acks
    topic = create_topic("acks")
    none = Array.new(5) { |i| Kafkette::MessageToSend.new(topic, "zero-#{i}") }
    assert producer(required_acks: 0).send_messages(none)
    assert(none.all? { |m| m.offset.nil? && m.partition == 0 }, "acks 0: no offsets")
    one = numbered(topic, 5, prefix: "one")
    assert producer(required_acks: 1).send_messages(one)
    all = numbered(topic, 5, prefix: "all")
    assert producer(required_acks: :all, ack_timeout_ms: 5000).send_messages(all)
    assert_equal (5...10).to_a, one.map(&:offset)
    assert_equal (10...15).to_a, all.map(&:offset)
    assert_equal 15, consume(topic, 0, 15).size
  end

  def test_small_max_request_bytes_splits_requests
    topic = create_topic("split")
    p = producer(max_request_bytes: 4096, max_send_retries: 5, retry_backoff_ms: 10, ack_timeout_ms: 3000,
                 metadata_refresh_interval_ms: 1000, socket_timeout_ms: 20_000, connect_timeout_ms: 5000,
                 topic_wait_ms: 5000, max_response_bytes: 1 << 20, type: :sync)
    msgs = Array.new(200) { |i| Kafkette::MessageToSend.new(topic, format("%04d", i) * 50) }
    assert p.send_messages(msgs)
    assert_equal (0...200).to_a, msgs.map(&:offset)
    assert_equal msgs.map(&:value), consume(topic, 0, 200).map(&:value)
  end

  def test_auto_created_topic
    topic = unique_topic("auto")
    m = Kafkette::MessageToSend.new(topic, "first")
    assert producer.send_messages([m])
    assert_equal 0, m.offset
    assert_equal ["first"], consume(topic, 0, 1).map(&:value)
  end

  def test_unknown_topic_without_auto_creation_waits_topic_wait_ms
    p = producer(allow_auto_topic_creation: false, topic_wait_ms: 300, max_send_retries: 0)
    m = Kafkette::MessageToSend.new(unique_topic("absent"), "v")
    started = now
    err = assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { p.send_messages([m]) }
    assert_operator now - started, :>=, 0.25
    assert_equal 3, err.code
    assert_equal [m], err.failed_messages
    assert_equal 3, m.error_code
    assert_kind_of Kafkette::Errors::UnknownTopicOrPartition, m.error
    refute m.delivered?
  end

  def test_partial_failure_lists_only_the_failed_messages
    topic = create_topic("partial", partitions: 1)
    good = Kafkette::MessageToSend.new(topic, "good")
    bad = Kafkette::MessageToSend.new(topic, "bad", nil, partition: 9)
    also_good = Kafkette::MessageToSend.new(topic, "also good", "k")
    err = assert_raises(Kafkette::Errors::InvalidPartitionError) { producer.send_messages([good, bad, also_good]) }
    assert_equal [bad], err.failed_messages
    assert_match(/1 of 3 messages not delivered/, err.message)
    assert_equal [0, 1], [good.offset, also_good.offset]
    assert good.delivered?
    refute bad.delivered?
    assert_equal Kafkette::Native::ERR_INVALID_PARTITION, bad.error_code
  end

  def test_message_too_large
    topic = create_topic("large")
    p = producer(max_request_bytes: 8 << 20)
    big = Kafkette::MessageToSend.new(topic, "x" * (2 << 20))
    err = assert_raises(Kafkette::Errors::MessageSizeTooLarge) { p.send_messages([big]) }
    assert_same Kafkette::Errors::MessageTooLarge, err.class
    assert_equal 10, err.code
    assert_equal [big], err.failed_messages
  end

  def test_invalid_topic_name
    m = Kafkette::MessageToSend.new("no spaces allowed!", "v")
    err = assert_raises(Kafkette::Errors::InvalidTopicException) { producer.send_messages([m]) }
    assert_equal 17, err.code
  end

  def test_shutdown_and_close
    p = producer
    refute p.closed?
    p.shutdown
    assert p.closed?
    p.close
    assert_raises(Kafkette::Errors::ProducerShutdownError) { p.send_messages([Kafkette::MessageToSend.new("t", "v")]) }
    assert_kind_of Kafkette::Errors::ClosedError, Kafkette::Errors::ProducerShutdownError.new
  end

  def test_connection_refused
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] } # free, and nobody listens now
    p = Kafkette::Producer.new(["127.0.0.1:#{port}"], "refused", max_send_retries: 0)
    err = assert_raises(Kafkette::Errors::ConnectionFailedError) { p.send_messages([Kafkette::MessageToSend.new("t", "v")]) }
    assert_equal Kafkette::Native::ERR_CONNECTION_REFUSED, err.code
    p.close
    two = Kafkette::Producer.new(["127.0.0.1:#{port}", "127.0.0.1:#{port}"], "refused", max_send_retries: 0)
    assert_raises(Kafkette::Errors::UnableToFetchMetadata) { two.send_messages([Kafkette::MessageToSend.new("t", "v")]) }
    two.close
  end

  def test_logger_receives_core_log_lines
    io = StringIO.new
    Kafkette.logger = Logger.new(io, level: Logger::DEBUG)
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    p = Kafkette::Producer.new(["127.0.0.1:#{port}", BROKERS.first], "logged")
    assert p.send_messages([Kafkette::MessageToSend.new(create_topic("log"), "v")])
    p.close
    assert_match(/WARN -- kafkette: seed unusable: .*127\.0\.0\.1:#{port}/, io.string)
    assert_match(/DEBUG -- kafkette: connected to seed/, io.string)
    assert_raises(TypeError) { Kafkette.logger = Object.new }
    Kafkette.logger = nil
    q = producer
    assert q.send_messages([Kafkette::MessageToSend.new(create_topic("nolog"), "v")]) # lines dropped quietly
  ensure
    Kafkette.logger = nil
  end

  def test_a_broken_logger_does_not_fail_a_send
    broken = Object.new
    def broken.add(*)
      raise "logger exploded"
    end
    Kafkette.logger = broken
    p = Kafkette::Producer.new(["127.0.0.1:1", BROKERS.first], "broken-logger")
    assert p.send_messages([Kafkette::MessageToSend.new(create_topic("brokenlog"), "v")])
    p.close
  ensure
    Kafkette.logger = nil
  end
end
