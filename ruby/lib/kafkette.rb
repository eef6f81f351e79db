# frozen_string_literal: true

# kafkette: an Apache Kafka client whose protocol work is done by a C core; this library is a
# thin layer over it with Poseidon's API (Producer, MessageToSend, PartitionConsumer,
# FetchedMessage, Errors). `require "kafkette/poseidon"` also defines Poseidon itself.
require "logger"
require "kafkette/version"
require "kafkette/kafkette_ext"
require "kafkette/errors"
require "kafkette/message_to_send"
require "kafkette/fetched_message"
require "kafkette/producer"
require "kafkette/partition_consumer"
require "kafkette/client"
require "kafkette/consumer_group"

module Kafkette
  # The C core's version.
  CORE_VERSION = Native::CORE_VERSION

  # A directory whose poseidon.rb loads kafkette/poseidon: put it on the load path and a script's
  # `require "poseidon"` gets kafkette's Poseidon layer without editing the script.
  POSEIDON_COMPAT_DIR = File.expand_path("kafkette/compat", __dir__)

  @logger = nil

  class << self
    # A Logger (or anything with Logger#add) that receives the core's log lines, or nil to drop
    # them. The lines are collected while a call runs without the GVL and emitted when it returns.
    attr_reader :logger

    def logger=(logger)
      unless logger.nil? || logger.respond_to?(:add)
        raise TypeError, "a logger must respond to #add (like Logger), not #{logger.class}"
      end

      @logger = logger
    end

    # Called by the extension with [[severity, line], ...] after a call.
    # @api private
    def emit_log_lines(lines)
      logger = @logger
      return if logger.nil?

      lines.each { |severity, line| logger.add(severity, line, "kafkette") }
    rescue StandardError
      nil # a broken logger must not turn a finished send or fetch into a failure
    end

    # "host:port" strings from an Array (or any #each) of them, or one comma-separated String.
    # @api private
    def broker_list(brokers)
      list = brokers.is_a?(String) ? brokers.split(",") : brokers
      raise ArgumentError, "brokers must respond to #each" unless list.respond_to?(:each)

      list = list.map do |broker|
        raise TypeError, "brokers must be \"host:port\" Strings, not #{broker.class}" unless broker.is_a?(String)

        broker = broker.strip
        host, port = split_host_port(broker)
        raise ArgumentError, "broker #{broker.inspect} is not \"host:port\"" if host.nil? || host.empty?

        check_port(port)
        broker
      end
      raise ArgumentError, "the broker list is empty" if list.empty?

      list
    end

    # @api private
    def check_port(port)
      raise TypeError, "port must be an Integer, not #{port.class}" unless port.is_a?(Integer)
      raise ArgumentError, "port must be in 1..65535, not #{port}" unless (1..65_535).cover?(port)

      port
    end

    # @api private
    def check_string(value, what, allow_nil: false)
      return value if value.is_a?(String) || (allow_nil && value.nil?)
      raise ArgumentError, "#{what} must not be nil" if value.nil?

      raise TypeError, "#{what} must be a String, not #{value.class}"
    end

    # @api private
    def check_int(value, what, range)
      raise TypeError, "#{what} must be an Integer, not #{value.class}" unless value.is_a?(Integer)
      raise ArgumentError, "#{what} must be in #{range}, not #{value}" unless range.cover?(value)

      value
    end

    # @api private
    # Checks an option every class with connections takes the same way and puts it into
    # native under the extension's name; false when name is not one of them.
    def connection_option(name, value, native)
      case name
      when :socket_timeout_ms
        native[:request_timeout_ms] = check_int(value, name.to_s, 1..0x7fff_ffff)
      when :connect_timeout_ms, :max_response_bytes
        native[name] = check_int(value, name.to_s, 1..0x7fff_ffff)
      when :max_api_versions
        raise TypeError, "max_api_versions must be a Hash" unless value.is_a?(Hash)

        native[name] = value
      else
        return false
      end
      true
    end

    private

    def split_host_port(broker)
      match = broker.match(/\A\[(?<host>[^\]]+)\]:(?<port>\d+)\z/) || broker.match(/\A(?<host>[^:\s]+):(?<port>\d+)\z/)
      return [nil, nil] unless match

      [match[:host], Integer(match[:port], 10)]
    end
  end
end
