# frozen_string_literal: true

require "test_helper"
require "kafkette/poseidon"
require "rbconfig"

# require "kafkette/poseidon": Poseidon's API and defaults on top of kafkette.
class TestPoseidon < Minitest::Test
  include KafketteTest

  # The two examples of Poseidon's README, as published (only the broker address is ours).
  README_PRODUCER = <<~RUBY
    require 'poseidon'

    producer = Poseidon::Producer.new(["localhost:9092"], "my_test_producer")

    messages = []
    messages << Poseidon::MessageToSend.new("topic1", "value1")
    messages << Poseidon::MessageToSend.new("topic2", "value2")
    producer.send_messages(messages)
  RUBY

  README_CONSUMER = <<~RUBY
    require 'poseidon'

    consumer = Poseidon::PartitionConsumer.new("my_test_consumer", "localhost", 9092,
                                                "topic1", 0, :earliest_offset)

    loop do
      messages = consumer.fetch
      messages.each do |m|
        puts m.value
      end
    end
  RUBY

  # Runs a script the way a Poseidon user would, with `require 'poseidon'` resolved to
  # kafkette's layer through Kafkette::POSEIDON_COMPAT_DIR.
  def spawn_script(source)
    script = source.gsub('"localhost:9092"', BROKERS.first.dump).gsub('"localhost", 9092', "#{BROKER_HOST.dump}, #{BROKER_PORT}")
    lib = File.dirname($LOADED_FEATURES.grep(%r{/kafkette\.rb\z}).first)
    ext = File.dirname($LOADED_FEATURES.grep(%r{/kafkette/kafkette_ext\.[a-z]+\z}).first, 2)
    cmd = [RbConfig.ruby, "-I", lib, "-I", ext, "-I", Kafkette::POSEIDON_COMPAT_DIR, "-e", "STDOUT.sync = true; eval(STDIN.read)"]
    io = IO.popen(cmd, "r+")
    io.write(script)
    io.close_write
    io
  end

  def end_offset(topic)
    admin.partition_count(topic)
    c = Kafkette::PartitionConsumer.new("probe", BROKER_HOST, BROKER_PORT, topic, 0, :latest_offset)
    c.next_offset.tap { c.close }
  rescue Kafkette::Errors::UnknownTopicOrPartition
    0
  end

  def test_readme_examples_run_unchanged
    # The examples' producer uses required_acks 0: have the topics ready first (see wait_until_led).
    %w[topic1 topic2].each do |topic|
      admin.create_topic(topic, partitions: 1, replication_factor: 1)
    rescue Kafkette::Errors::TopicAlreadyExists
      nil
    ensure
      wait_until_led(topic, 1)
    end
    before = end_offset("topic1")
    producer = spawn_script(README_PRODUCER)
    assert_equal "", producer.read
    producer.close
    assert $?.success?, "the producer example failed"

    consumer = spawn_script(README_CONSUMER)
    lines = []
    Timeout.timeout(VALGRIND ? 120 : 20) { lines << consumer.gets.chomp while lines.size < before + 1 }
    assert_equal ["value1"] * (before + 1), lines, "topic1 holds only the example's value1 messages"
    # it now waits in fetch (max_wait_ms 10 s): a TERM must end it at once
    killed_at = now
    Process.kill("TERM", consumer.pid)
    consumer.read
    consumer.close
    assert_operator now - killed_at, :<, VALGRIND ? 10 : 2
    assert $?.signaled? || !$?.success?
    assert_operator end_offset("topic2"), :>=, 1
  end

  def test_poseidon_namespace
    assert_same Kafkette::Errors, Poseidon::Errors
    assert_same Kafkette::MessageToSend, Poseidon::MessageToSend
    assert_same Kafkette::FetchedMessage, Poseidon::FetchedMessage
    assert_operator Poseidon::Producer, :<, Kafkette::Producer
    assert_operator Poseidon::PartitionConsumer, :<, Kafkette::PartitionConsumer
    assert_same Poseidon::Errors::NotLeaderOrFollower, Poseidon::Errors::NotLeaderForPartition
    assert_same Poseidon::Errors::MessageSizeTooLarge, Poseidon::Errors::ERROR_CODES[10]
    assert_same Kafkette::Errors::ConnectionFailedError, Poseidon::Connection::ConnectionFailedError
    assert_same Kafkette::Errors::TimedOutError, Poseidon::Connection::TimeoutException
    m = Poseidon::FetchedMessage.new("topic", "value", "key", 7)
    assert_equal ["topic", "value", "key", 7], [m.topic, m.value, m.key, m.offset]
    assert_raises(ArgumentError) { Poseidon::MessageToSend.new(nil, "value") }
  end

  def test_logger
    refute_nil Poseidon.logger
    Poseidon.logger.info("dropped quietly")
    io = StringIO.new
    Poseidon.logger = Logger.new(io, level: Logger::DEBUG)
    assert_same Poseidon.logger, Kafkette.logger
    c = Poseidon::PartitionConsumer.new("log", BROKER_HOST, BROKER_PORT, create_topic("plog"), 0, :earliest_offset)
    c.fetch(max_wait_ms: 10)
    c.close
    assert_match(/leader is broker/, io.string)
  ensure
    Poseidon.logger = nil
  end

  def test_defaults_acks_zero_and_crc32_placement
    topic = create_topic("pcrc", partitions: 6)
    p = Poseidon::Producer.new(BROKERS, "poseidon-crc")
    keys = Array.new(48) { |i| "customer-#{i}" }
    msgs = keys.map { |k| Poseidon::MessageToSend.new(topic, "v-#{k}", k) }
    assert_equal true, p.send_messages(msgs)
    keys.zip(msgs).each { |k, m| assert_equal Zlib.crc32(k) % 6, m.partition, k }
    assert(msgs.all? { |m| m.offset.nil? }, "required_acks 0: the broker reports no offsets")
    p.shutdown
    assert_raises(Poseidon::Errors::ProducerShutdownError) { p.send_messages(msgs) }
    sample = msgs.first
    expected = msgs.count { |m| m.partition == sample.partition }
    got = consume(topic, sample.partition, expected)
    assert_includes got.map(&:key), sample.key
    assert(got.all? { |m| Zlib.crc32(m.key) % 6 == sample.partition })
  end

  def test_partitioner_proc_and_options
    topic = create_topic("pproc", partitions: 3)
    my_partitioner = proc { |key, partition_count| Zlib.crc32(key) % partition_count }
    p = Poseidon::Producer.new(BROKERS, "poseidon-proc", type: :sync, partitioner: my_partitioner,
                                                         compression_codec: :gzip, required_acks: 1,
                                                         max_send_retries: 3, retry_backoff_ms: 100,
                                                         metadata_refresh_interval_ms: 600_000, ack_timeout_ms: 1500,
                                                         socket_timeout_ms: 10_000, compressed_topics: [topic])
    msgs = %w[a b c d e].map { |k| Poseidon::MessageToSend.new(topic, "v", k) }
    assert p.send_messages(msgs)
    msgs.each { |m| assert_equal Zlib.crc32(m.key) % 3, m.partition }
    assert(msgs.all? { |m| m.offset.is_a?(Integer) })
    assert_raises(Poseidon::Errors::InvalidArgumentError) { Poseidon::Producer.new(BROKERS, "x", unknown_option: 1) }
    wrong = Poseidon::Producer.new(BROKERS, "x", partitioner: proc { 3 })
    assert_raises(Poseidon::Errors::InvalidPartitionError) { wrong.send_messages([Poseidon::MessageToSend.new(topic, "v", "k")]) }
    [p, wrong].each(&:shutdown)
  end

  def test_partition_consumer
    topic = create_topic("pcons")
    feed = Poseidon::Producer.new(BROKERS, "feed", required_acks: 1)
    feed.send_messages(Array.new(10) { |i| Poseidon::MessageToSend.new(topic, "value#{i}") })
    feed.shutdown

    c = Poseidon::PartitionConsumer.new("my_test_consumer", BROKER_HOST, BROKER_PORT, topic, 0, :earliest_offset)
    messages = c.fetch
    assert_equal (0...10).map { |i| "value#{i}" }, messages.map(&:value)
    assert_equal 10, c.highwater_mark
    assert_equal 10, c.next_offset
    assert_equal [BROKER_HOST, BROKER_PORT], [c.host, c.port]
    started = now
    assert_equal [], c.fetch(max_wait_ms: 200)
    assert_operator now - started, :>=, 0.15
    assert_nil c.close

    tail = Poseidon::PartitionConsumer.new("c", BROKER_HOST, BROKER_PORT, topic, 0, -3)
    assert_equal %w[value7 value8 value9], tail.fetch.map(&:value)
    tail.close

    # Poseidon raised OffsetOutOfRange for an offset past the end
    far = Poseidon::PartitionConsumer.new("c", BROKER_HOST, BROKER_PORT, topic, 0, 50, max_wait_ms: 100)
    assert_raises(Poseidon::Errors::OffsetOutOfRange) { far.fetch }
    far.close

    cfp = Poseidon::PartitionConsumer.consumer_for_partition("c", BROKERS, topic, 0, :latest_offset)
    assert_instance_of Poseidon::PartitionConsumer, cfp
    assert_equal 10, cfp.next_offset
    cfp.close

    assert_raises(ArgumentError) do
      Poseidon::PartitionConsumer.new("c", BROKER_HOST, BROKER_PORT, topic, 0, 0, max_wait_ms: 5000, socket_timeout_ms: 1000)
    end
    assert_raises(ArgumentError) { Poseidon::PartitionConsumer.new("c", BROKER_HOST, BROKER_PORT, topic, 0, :first_offset) }
  end
end
