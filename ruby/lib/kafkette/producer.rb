# frozen_string_literal: true

module Kafkette
  # Sends batches of MessageToSend synchronously.
  #
  #     producer = Kafkette::Producer.new(["localhost:9092"], "my_producer", compression_codec: :zstd)
  #     producer.send_messages([Kafkette::MessageToSend.new("events", "hello", "key")])  # => true
  #
  # brokers: an Array of "host:port" Strings or one comma-separated String (the
  # bootstrap_servers option). Options: the "Every object" and "Producer" tables of
  # docs/CONFIGURATION.md (Symbol or String keys; Symbols such as :gzip or :all go as their
  # text); the core checks them and raises Errors::InvalidArgumentError with its message.
  # :partitioner also takes any object responding to call(key, partition_count), which the core
  # calls for every keyed message without a partition (docs/BINDINGS.md).
  #
  # Calls from several threads take turns; #close from another thread stops a send that is
  # waiting (docs/BINDINGS.md, "Threads, close and callbacks").
  class Producer
    attr_reader :brokers, :client_id, :options

    def initialize(brokers, client_id, options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      @brokers = brokers
      @client_id = client_id
      @options = options.dup.freeze
      _setup(brokers, client_id, options)
    end

    # Sends the messages. Returns true when every one was delivered, nil for an empty list, and
    # raises otherwise: an Errors class for the first failure, whose #failed_messages lists the
    # messages not delivered (the others were). Afterwards every message's #partition and
    # #offset say where it went.
    def send_messages(messages)
      raise Errors::ProducerShutdownError, "the producer is shut down" if closed?
      raise ArgumentError, "messages must respond to #each" unless messages.respond_to?(:each)

      list = messages.is_a?(Array) ? messages : messages.to_a
      return nil if list.empty?

      _send(list)
    end

    # Closes the connections; later sends raise ProducerShutdownError. Safe to call twice, and
    # from another thread while a send waits (that send then raises ProducerShutdownError).
    def shutdown
      close
    end

    def inspect
      "#<#{self.class.name} brokers=#{Array(@brokers).join(',')} client_id=#{@client_id.inspect}#{closed? ? ' closed' : ''}>"
    end
  end
end
