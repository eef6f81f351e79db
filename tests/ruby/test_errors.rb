# frozen_string_literal: true

require "test_helper"

class TestErrors < Minitest::Test
  include KafketteTest

  def test_one_protocol_error_class_per_broker_code
    codes = Kafkette::Native.error_codes.select(&:positive?)
    assert_operator codes.size, :>, 100, "every code the core knows, not only the first ten"
    codes.each do |code|
      name = Kafkette::Native.error_name(code)
      klass = Kafkette::Errors::ERROR_CODES.fetch(code)
      assert_operator klass, :<, Kafkette::Error # ProtocolError, or AuthenticationError for SASL codes
      assert_equal code, klass.code
      assert_equal name, klass.kafka_name
      camel = name.split("_").map(&:capitalize).join
      assert_same klass, Kafkette::Errors.const_get(camel), name
      assert_equal code, Kafkette::Errors.build(code, "x").code
      assert_instance_of klass, Kafkette::Errors.build(code, "x")
    end
    assert_same Kafkette::Errors::NotLeaderOrFollower, Kafkette::Errors::ERROR_CODES[6]
    assert_equal 36, Kafkette::Errors::TopicAlreadyExists.code
    assert_equal 136, Kafkette::Errors::ControllerIdNotRegistered.code
  end

  def test_poseidon_names
    e = Kafkette::Errors
    assert_same e::UnknownServerError, e::UnknownError
    assert_same e::OffsetOutOfRange, e::ERROR_CODES[1]
    assert_same e::CorruptMessage, e::InvalidMessage
    assert_same e::UnknownTopicOrPartition, e::ERROR_CODES[3]
    assert_same e::InvalidFetchSize, e::InvalidMessageSize
    assert_same e::LeaderNotAvailable, e::ERROR_CODES[5]
    assert_same e::NotLeaderOrFollower, e::NotLeaderForPartition
    assert_same e::RequestTimedOut, e::ERROR_CODES[7]
    assert_same e::BrokerNotAvailable, e::ERROR_CODES[8]
    assert_same e::ReplicaNotAvailable, e::ERROR_CODES[9]
    assert_same e::MessageTooLarge, e::MessageSizeTooLarge
    assert_equal 10, e::MessageSizeTooLarge.code
    assert_equal 0, e::NO_ERROR_CODE
    %i[ProtocolError UnrecognizedProtocolError UnableToFetchMetadata ChecksumError ProducerShutdownError
       InvalidPartitionError ConnectionFailedError].each do |name|
      assert_operator e.const_get(name), :<, StandardError, name.to_s
    end
  end

  def test_client_codes_map_to_classes
    n = Kafkette::Native
    {
      n::ERR_TIMED_OUT => Kafkette::Errors::TimedOutError,
      n::ERR_CONNECTION_REFUSED => Kafkette::Errors::ConnectionFailedError,
      n::ERR_CONNECTION_CLOSED => Kafkette::Errors::ConnectionFailedError,
      n::ERR_RESOLVE => Kafkette::Errors::ConnectionFailedError,
      n::ERR_NO_BROKERS => Kafkette::Errors::UnableToFetchMetadata,
      n::ERR_CRC => Kafkette::Errors::ChecksumError,
      n::ERR_MALFORMED => Kafkette::Errors::MalformedResponseError,
      n::ERR_COMPRESSION => Kafkette::Errors::CompressionError,
      n::ERR_STATE => Kafkette::Errors::ClosedError,
      n::ERR_INVALID_PARTITION => Kafkette::Errors::InvalidPartitionError,
      n::ERR_INVALID_ARG => Kafkette::Errors::InvalidArgumentError,
      n::ERR_INTERRUPTED => Kafkette::Errors::CallInterruptedError,
      n::ERR_NO_MEMORY => Kafkette::Errors::OutOfMemoryError,
      999 => Kafkette::Errors::UnrecognizedProtocolError
    }.each do |code, klass|
      err = Kafkette::Errors.build(code, "message #{code}")
      assert_instance_of klass, err, code.to_s
      assert_equal "message #{code}", err.message
      assert_equal code, err.code
    end
    assert Kafkette::Errors.build(6, "x").retriable?
    refute Kafkette::Errors.build(10, "x").retriable?
    assert_operator Kafkette::Errors::TimedOutError, :<, Kafkette::Errors::ConnectionFailedError
  end

  def test_broker_errors_raise_their_class
    topic = create_topic("errs")
    err = assert_raises(Kafkette::Errors::TopicAlreadyExists) { admin.create_topic(topic, partitions: 1) }
    assert_equal 36, err.code
    assert_match(/#{topic}/, err.message)
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { admin.delete_topic(unique_topic("nothing")) }
    assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { admin.partition_count(unique_topic("nothing")) }
    assert_raises(Kafkette::Errors::InvalidArgumentError) { admin.create_topic(unique_topic("zero"), partitions: 0) }
    assert_raises(Kafkette::Errors::InvalidReplicationFactor) do
      admin.create_topic(unique_topic("rf"), partitions: 1, replication_factor: 3) # one broker
    end
    err = assert_raises(Kafkette::Errors::InvalidConfig) do
      admin.create_topic(unique_topic("cfg"), partitions: 1, configs: { "cleanup.policy" => "bogus" })
    end
    assert_equal 40, err.code
  end

  def test_connection_errors
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    c = Kafkette::PartitionConsumer.new("x", "127.0.0.1", port, "t", 0, 0)
    err = assert_raises(Kafkette::Errors::ConnectionFailedError) { c.fetch }
    assert_match(/127\.0\.0\.1:#{port}/, err.message)
    assert err.retriable?
    c.close
    bad_host = Kafkette::PartitionConsumer.new("x", "no-such-host.invalid", 9092, "t", 0, 0)
    assert_raises(Kafkette::Errors::ConnectionFailedError) { bad_host.fetch }
    bad_host.close
  end

  def test_a_silent_server_times_out
    server = TCPServer.open("127.0.0.1", 0) # accepts, never answers
    c = Kafkette::PartitionConsumer.new("x", "127.0.0.1", server.addr[1], "t", 0, 0, socket_timeout_ms: 300)
    started = now
    err = assert_raises(Kafkette::Errors::TimedOutError) { c.fetch }
    assert_operator now - started, :<, 5
    assert_equal Kafkette::Native::ERR_TIMED_OUT, err.code
    c.close
  ensure
    server&.close
  end
end
