# frozen_string_literal: true

module Kafkette
  # Every error kafkette raises (except ArgumentError/TypeError for bad arguments) is a
  # Kafkette::Error. #code is the core's error code: a Kafka broker code (positive, or -1) or a
  # client-side code (-100 and below).
  class Error < StandardError
    attr_reader :code

    # The MessageToSend objects a failed send_messages did not deliver (nil for other errors).
    # The others in the same call were delivered: a send is never all-or-nothing.
    attr_reader :failed_messages

    def initialize(message = nil, code: nil)
      super(message)
      @code = code || self.class.instance_variable_get(:@code)
    end

    # Whether the same call may succeed if tried again.
    def retriable?
      !code.nil? && Native.retriable?(code)
    end
  end

  # Error classes with Poseidon's names, plus one ProtocolError subclass per Kafka error code.
  module Errors
    # An error code a Kafka broker returned. Each code has its own subclass, named after the
    # protocol's name for it (NOT_LEADER_OR_FOLLOWER -> NotLeaderOrFollower).
    class ProtocolError < Error
      class << self
        # The Kafka error code of this class (nil for ProtocolError itself).
        attr_reader :code
        # The protocol's name, e.g. "NOT_LEADER_OR_FOLLOWER".
        attr_reader :kafka_name
      end
    end

    # A broker code this version of the library does not know.
    class UnrecognizedProtocolError < ProtocolError; end

    # Connecting to or talking with a broker failed (refused, closed, reset, unresolvable).
    class ConnectionFailedError < Error; end
    # A connect or request deadline passed.
    class TimeoutError < ConnectionFailedError; end
    # No seed broker could be reached for cluster metadata.
    class UnableToFetchMetadata < ConnectionFailedError; end
    # A fetched record batch failed its checksum.
    class ChecksumError < Error; end
    # A response that does not decode, or one larger than max_response_bytes.
    class MalformedResponseError < Error; end
    # The broker speaks no version of an API that the client speaks.
    class UnsupportedVersionError < Error; end
    # A codec failed (or the data is not what its header says).
    class CompressionError < Error; end
    # An object was used after #close.
    class ClosedError < Error; end
    # send_messages after #shutdown / #close.
    class ProducerShutdownError < ClosedError; end
    # A partitioner chose a partition the topic does not have.
    class InvalidPartitionError < Error; end
    # A call was interrupted without Ruby raising anything for it.
    class InterruptedError < Error; end
    # A consumer group member committed a partition it does not (or no longer) own.
    class NotAssignedError < Error; end

    # Poseidon's names for codes the protocol has renamed since.
    POSEIDON_ALIASES = {
      "UNKNOWN_SERVER_ERROR" => :UnknownError,
      "CORRUPT_MESSAGE" => :InvalidMessage,
      "INVALID_FETCH_SIZE" => :InvalidMessageSize,
      "NOT_LEADER_OR_FOLLOWER" => :NotLeaderForPartition,
      "MESSAGE_TOO_LARGE" => :MessageSizeTooLarge
    }.freeze

    NO_ERROR_CODE = 0

    # code => class, for every broker code.
    ERROR_CODES = {}

    def self.camel_case(name)
      name.downcase.split("_").map(&:capitalize).join
    end

    Native.broker_codes.each do |code, name, description, _retriable|
      klass = Class.new(ProtocolError)
      klass.instance_variable_set(:@code, code)
      klass.instance_variable_set(:@kafka_name, name.freeze)
      klass.instance_variable_set(:@description, description.freeze)
      const_set(camel_case(name), klass)
      const_set(POSEIDON_ALIASES[name], klass) if POSEIDON_ALIASES.key?(name)
      ERROR_CODES[code] = klass
    end
    ERROR_CODES.freeze

    CLIENT_CODES = {
      Native::ERR_TIMED_OUT => TimeoutError,
      Native::ERR_CONNECTION_REFUSED => ConnectionFailedError,
      Native::ERR_RESOLVE => ConnectionFailedError,
      Native::ERR_CONNECTION_CLOSED => ConnectionFailedError,
      Native::ERR_IO => ConnectionFailedError,
      Native::ERR_NOT_CONNECTED => ConnectionFailedError,
      Native::ERR_UNKNOWN_BROKER => ConnectionFailedError,
      Native::ERR_NO_BROKERS => UnableToFetchMetadata,
      Native::ERR_MALFORMED => MalformedResponseError,
      Native::ERR_CORRELATION => MalformedResponseError,
      Native::ERR_RESPONSE_TOO_LARGE => MalformedResponseError,
      Native::ERR_INTERRUPTED => InterruptedError,
      Native::ERR_UNSUPPORTED_VERSION => UnsupportedVersionError,
      Native::ERR_CRC => ChecksumError,
      Native::ERR_COMPRESSION => CompressionError,
      Native::ERR_STATE => ClosedError,
      Native::ERR_INVALID_PARTITION => InvalidPartitionError,
      Native::ERR_PARTIAL_FAILURE => Error,
      Native::ERR_NOT_ASSIGNED => NotAssignedError
    }.freeze

    # The exception class for a core error code.
    def self.class_for(code)
      ERROR_CODES[code] || CLIENT_CODES[code] ||
        case code
        when Native::ERR_INVALID_ARG then ArgumentError
        when Native::ERR_NO_MEMORY then NoMemoryError
        when 1.. then UnrecognizedProtocolError
        else Error
        end
    end

    # The exception for a core error code and message (used by the extension).
    def self.build(code, message)
      klass = class_for(code)
      klass <= Error ? klass.new(message, code: code) : klass.new(message)
    end
  end
end
