# frozen_string_literal: true

# #stats on Producer, PartitionConsumer and ConsumerGroup: the Hash of docs/STATISTICS.md, with the
# same keys as Python's dict (tests/python/test_stats.py).
require_relative "test_helper"

class TestStats < Minitest::Test
  include KafketteTest

  COUNTERS = %i[messages_sent bytes_sent messages_received bytes_received requests request_bytes response_bytes
                retries errors reconnects in_flight_requests queued_bytes partitions_total].freeze

  def check_shape(stats)
    assert_equal (COUNTERS + %i[errors_by_code brokers partitions]).sort, stats.keys.sort
    stats[:brokers].each_value do |b|
      assert_operator b[:rtt_p50_ms], :<=, b[:rtt_p99_ms]
      assert_operator b[:rtt_p50_ms], :>, 0 if b[:requests].positive?
    end
  end

  def test_producer_and_consumer
    topic = create_topic("stats")
    producer = Kafkette::Producer.new(BROKERS, "rb-stats")
    producer.send_messages(Array.new(20) { Kafkette::MessageToSend.new(topic, "x" * 10, "key") })
    s = producer.stats
    producer.close
    check_shape(s)
    assert_equal [20, 20 * 13, 0], [s[:messages_sent], s[:bytes_sent], s[:errors]]
    assert_equal(s[:requests], s[:brokers].values.sum { |b| b[:requests] })
    assert_raises(Kafkette::Errors::ProducerShutdownError) { producer.stats }

    consumer = Kafkette::PartitionConsumer.new("rb-stats", BROKER_HOST, BROKER_PORT, topic, 0, 15, max_wait_ms: 100)
    got = consumer.fetch
    s = consumer.stats
    consumer.close
    check_shape(s)
    assert_equal [5, 5, 65], [got.size, s[:messages_received], s[:bytes_received]]
    assert_equal [{ topic: topic, partition: 0, position: 20, high_watermark: 20, lag: 0 }], s[:partitions]
  end

  def test_errors_by_code
    producer = Kafkette::Producer.new(["127.0.0.1:1"], "rb-stats", connect_timeout_ms: 500, max_send_retries: 0)
    assert_raises(Kafkette::Errors::Error) { producer.send_messages([Kafkette::MessageToSend.new("t", "lost")]) }
    s = producer.stats
    producer.close
    assert_operator s[:errors_by_code].fetch("_CONNECTION_REFUSED"), :>=, 1
    assert_equal s[:errors], s[:errors_by_code].values.sum
  end

  def test_group
    topic = create_topic("gstats", partitions: 2)
    producer = Kafkette::Producer.new(BROKERS, "rb-stats")
    producer.send_messages([0, 1, 1].map { |p| Kafkette::MessageToSend.new(topic, "v", nil, partition: p) })
    producer.close
    group = Kafkette::ConsumerGroup.new("rb-stats-#{topic}", BROKERS, topic, max_wait_ms: 100)
    got = 0
    deadline = now + 20
    group.fetch { |_, messages| got += messages.size } while got < 3 && now < deadline
    s = group.stats
    group.close
    check_shape(s)
    assert_equal [3, 2], [s[:messages_received], s[:partitions_total]]
    assert_equal([[0, 1, 0], [1, 2, 0]], s[:partitions].map { |p| [p[:partition], p[:position], p[:lag]] })
  end
end
