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
require "kafkette/admin"
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

    # @api private
    def check_string(value, what, allow_nil: false)
      return value if value.is_a?(String) || (allow_nil && value.nil?)
      raise ArgumentError, "#{what} must not be nil" if value.nil?

      raise TypeError, "#{what} must be a String, not #{value.class}"
    end
  end
end
