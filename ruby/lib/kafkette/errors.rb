# frozen_string_literal: true

module Kafkette
  # The root of every error kafkette raises (the core's "Error"); #code is the core's error
  # code: a Kafka broker code (positive, or -1) or a client-side code (-100 and below).
  class Error < StandardError
    attr_reader :code

    # The MessageToSend objects a failed send_messages did not deliver (nil for other errors).
    # The others in the same call were delivered: a send is never all-or-nothing.
    attr_reader :failed_messages

    def initialize(message = nil, code: nil)
      super(message)
      @code = code || self.class.code
    end

    class << self
      # The Kafka error code of a broker code's own class (nil for the others).
      attr_reader :code
      # The protocol's name of a broker code's own class, e.g. "NOT_LEADER_OR_FOLLOWER".
      attr_reader :kafka_name
    end

    # Whether the same call may succeed if tried again (the core decides).
    def retriable?
      !code.nil? && Native.retriable?(code)
    end
  end

  # The exception classes, created from the core's error taxonomy (docs/BINDINGS.md, "Errors"):
  # the same names, parents and (Poseidon's) aliases as in every other binding, and one
  # ProtocolError subclass per Kafka broker code (NOT_LEADER_OR_FOLLOWER -> NotLeaderOrFollower).
  module Errors
    NO_ERROR_CODE = 0

    Native.error_classes.each do |name, parent, aliaz, _doc|
      klass = parent ? Class.new(const_get(parent, false)) : Kafkette::Error
      const_set(name, klass)
      const_set(aliaz, klass) if aliaz
    end

    # code => class, for every broker code.
    ERROR_CODES = Native.error_codes.select(&:positive?).push(-1).to_h do |code|
      name, parent, aliaz = Native.error_class(code)
      klass = const_set(name, Class.new(const_get(parent, false)))
      klass.instance_variable_set(:@code, code)
      klass.instance_variable_set(:@kafka_name, Native.error_name(code).freeze)
      const_set(aliaz, klass) if aliaz
      [code, klass]
    end.freeze

    # The exception class for a core error code.
    def self.class_for(code)
      ERROR_CODES[code] || const_get(Native.error_class(code).first, false)
    end

    # The exception for a core error code and message (used by the extension).
    def self.build(code, message)
      class_for(code).new(message, code: code)
    end
  end
end
