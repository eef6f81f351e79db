# frozen_string_literal: true

# Poseidon's API on top of kafkette, with Poseidon's defaults:
#
#     require "kafkette/poseidon"
#     producer = Poseidon::Producer.new(["localhost:9092"], "my_test_producer")
#
# Producer: required_acks 0 and CRC-32 key placement (Zlib.crc32(key) % partition_count), so keyed
# data keeps landing where Poseidon put it. PartitionConsumer: max_wait_ms 10_000 and an
# out-of-range offset raises Errors::OffsetOutOfRange. The classes are kafkette's (subclasses
# for Producer and PartitionConsumer), so Poseidon::Errors::X is Kafkette::Errors::X.
# The differences from Poseidon are listed in ruby/POSEIDON.md.
require "kafkette"

if defined?(::Poseidon::Producer) && !(::Poseidon::Producer <= Kafkette::Producer)
  raise LoadError, "the poseidon gem is already loaded; kafkette/poseidon replaces it and cannot be loaded beside it"
end

module Poseidon
  Errors = Kafkette::Errors
  MessageToSend = Kafkette::MessageToSend
  FetchedMessage = Kafkette::FetchedMessage

  # Poseidon kept these two under Connection.
  class Connection
    ConnectionFailedError = Kafkette::Errors::ConnectionFailedError
    TimeoutException = Kafkette::Errors::TimedOutError
  end

  class Producer < Kafkette::Producer
    DEFAULTS = { required_acks: 0, partitioner: :crc32 }.freeze

    def initialize(brokers, client_id, options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      # Poseidon placed keys by CRC-32 unless given a partitioner object.
      options = DEFAULTS.merge(options.compact.transform_keys { |k| k.is_a?(String) ? k.to_sym : k })
      super(brokers, client_id, options)
    end
  end

  class PartitionConsumer < Kafkette::PartitionConsumer
    DEFAULTS = { max_wait_ms: 10_000, offset_reset: :error }.freeze

    private

    def setup(client_id, brokers, topic, partition, offset, options)
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      options = DEFAULTS.merge(options.compact.transform_keys { |k| k.is_a?(String) ? k.to_sym : k })
      if options.key?(:socket_timeout_ms) && options[:socket_timeout_ms].is_a?(Integer) &&
         options[:max_wait_ms].is_a?(Integer) && options[:socket_timeout_ms] < options[:max_wait_ms]
        raise ArgumentError, "Setting socket_timeout_ms should be higher than max_wait_ms"
      end

      super(client_id, brokers, topic, partition, offset, options)
    end
  end

  NULL_LOGGER = Logger.new(File::NULL, level: Logger::INFO)

  # Poseidon.logger never returns nil: a logger that drops everything when none is set.
  def self.logger
    Kafkette.logger || NULL_LOGGER
  end

  # Receives kafkette's log lines (it is Kafkette.logger).
  def self.logger=(logger)
    Kafkette.logger = logger
  end
end
