# frozen_string_literal: true

module Kafkette
  # Reads one partition of one topic, from its leader (found through the broker given, and
  # followed when it moves).
  #
  #     consumer = Kafkette::PartitionConsumer.new("my_consumer", "localhost", 9092, "events", 0, :earliest_offset)
  #     consumer.fetch.each { |m| puts m.value }
  #     consumer.each { |m| ... }            # every message, as it arrives, until #close
  #
  # Offsets: :earliest_offset, :latest_offset, an Integer offset, a negative Integer (that many
  # before the end, as Poseidon had it), or a Time (the first record at or after it).
  #
  # Options: the "Every object" and "PartitionConsumer" tables of docs/CONFIGURATION.md, checked
  # by the core (Errors::InvalidArgumentError with its message); max_bytes, min_bytes and
  # max_wait_ms can also be given to each #fetch. Calls from several threads take turns; #close
  # from another thread stops a waiting fetch (docs/BINDINGS.md).
  class PartitionConsumer
    include Enumerable

    attr_reader :client_id, :host, :port, :topic, :partition

    # A consumer that finds the partition's leader through any of the seed brokers (an Array of
    # "host:port" or one comma-separated String). Unlike #initialize it connects at once, so a
    # missing topic or partition raises here.
    def self.consumer_for_partition(client_id, seed_brokers, topic, partition, offset, options = {})
      consumer = allocate
      consumer.send(:setup, client_id, seed_brokers, topic, partition, offset, options)
      begin
        consumer.connect
      rescue StandardError
        consumer.close
        raise
      end
      consumer.send(:note_broker)
      consumer
    end

    def initialize(client_id, host, port, topic, partition, offset, options = {})
      Kafkette.check_string(host, "host")
      raise TypeError, "port must be an Integer, not #{port.class}" unless port.is_a?(Integer)

      @host = host
      @port = port
      setup(client_id, host.include?(":") ? "[#{host}]:#{port}" : "#{host}:#{port}", topic, partition, offset, options)
    end

    # Fetches the next messages: an Array of FetchedMessage, empty when none arrived within
    # max_wait_ms. Options :max_bytes, :min_bytes, :max_wait_ms override the consumer's.
    def fetch(options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      _fetch(options)
    end

    # Yields every message as it arrives, fetching again and again, until the consumer is
    # closed (or the block breaks). Without a block, an Enumerator (so `first(10)`, `lazy`,
    # `each_slice` ... work). Fetch options as for #fetch.
    def each(options = {})
      return enum_for(:each, options) unless block_given?

      until closed?
        begin
          batch = fetch(options)
        rescue Errors::ClosedError
          break if closed?

          raise
        end
        batch.each do |m|
          yield m
          break if closed? # closed by the block: stop here, not at the end of the batch
        end
      end
      self
    end

    # Poseidon's name for #next_offset.
    def offset
      next_offset
    end

    def inspect
      "#<#{self.class.name} #{@topic}[#{@partition}] via #{Array(@brokers).join(',')}#{closed? ? ' closed' : ''}>"
    end

    private

    def setup(client_id, brokers, topic, partition, offset, options)
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      @client_id = client_id
      @topic = Kafkette.check_string(topic, "topic")
      raise ArgumentError, "topic must not be empty" if topic.empty?

      @partition = partition
      @brokers = brokers
      kind, value = offset_spec(offset)
      _setup(brokers, client_id, topic, partition, kind, value, options)
    end

    # host and port of the seed that answered
    def note_broker
      host, _, port = _bootstrap_broker.to_s.rpartition(":")
      @host = host.delete_prefix("[").delete_suffix("]")
      @port = Integer(port, 10)
    end

    def offset_spec(offset)
      case offset
      when :earliest_offset then [Native::OFFSET_EARLIEST, 0]
      when :latest_offset then [Native::OFFSET_LATEST, 0]
      when Symbol then raise ArgumentError, "Unknown special offset type: #{offset}"
      when Integer
        raise ArgumentError, "offset #{offset} is out of range" unless offset.bit_length < 63

        offset.negative? ? [Native::OFFSET_FROM_LATEST, -offset] : [Native::OFFSET_AT, offset]
      when Time
        [Native::OFFSET_AT_TIME, (offset.to_r * 1000).to_i]
      when nil then raise ArgumentError, "offset must not be nil (:earliest_offset, :latest_offset or an Integer)"
      else raise TypeError, "offset must be a Symbol, an Integer or a Time, not #{offset.class}"
      end
    end
  end
end
