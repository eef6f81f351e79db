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
  # Options (each of the first three can be overridden per #fetch):
  # :max_bytes:: per fetch (1_048_576; a larger record is still returned whole)
  # :min_bytes:: how much the broker waits for (1)
  # :max_wait_ms:: how long it may wait for min_bytes (100)
  # :socket_timeout_ms:: deadline of a request on top of max_wait_ms (30_000)
  # :connect_timeout_ms:: (10_000)
  # :offset_reset:: when the next offset is out of range: :earliest (default), :latest, or
  #                 :error (raise Errors::OffsetOutOfRange)
  # :read_committed:: skip aborted transactional records (false)
  # :failover_tries:: leader lookups after a failure (5); :retry_backoff_ms:: between them (200)
  # :max_response_bytes:: (100 MiB); :max_api_versions:: {api_key => version} caps
  #
  # A consumer is for one thread at a time; #close from another thread stops a waiting fetch.
  class PartitionConsumer
    include Enumerable

    OPTIONS = %i[
      max_bytes min_bytes max_wait_ms socket_timeout_ms connect_timeout_ms offset_reset
      read_committed failover_tries retry_backoff_ms max_response_bytes max_api_versions
    ].freeze
    FETCH_OPTIONS = %i[max_bytes min_bytes max_wait_ms].freeze
    OFFSET_RESETS = { earliest: Native::RESET_EARLIEST, latest: Native::RESET_LATEST, error: Native::RESET_ERROR }.freeze

    attr_reader :client_id, :host, :port, :topic, :partition

    # A consumer that finds the partition's leader through any of the seed brokers. Unlike
    # #initialize it connects at once, so a missing topic or partition raises here.
    def self.consumer_for_partition(client_id, seed_brokers, topic, partition, offset, options = {})
      brokers = Kafkette.broker_list(seed_brokers)
      consumer = allocate
      consumer.send(:setup, client_id, brokers, topic, partition, offset, options)
      begin
        consumer.connect
      rescue StandardError
        consumer.close
        raise
      end
      consumer
    end

    def initialize(client_id, host, port, topic, partition, offset, options = {})
      Kafkette.check_string(host, "host")
      raise ArgumentError, "host must not be empty" if host.empty?

      Kafkette.check_port(port)
      broker = host.include?(":") ? "[#{host}]:#{port}" : "#{host}:#{port}"
      setup(client_id, [broker], topic, partition, offset, options)
    end

    # Fetches the next messages: an Array of FetchedMessage, empty when none arrived within
    # max_wait_ms. Options :max_bytes, :min_bytes, :max_wait_ms override the consumer's.
    def fetch(options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      unless options.empty?
        unknown = options.keys - FETCH_OPTIONS
        raise ArgumentError, "Unknown options: #{unknown.inspect}" if unknown.any?
      end
      _fetch(options[:max_bytes], options[:min_bytes], options[:max_wait_ms])
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
      "#<#{self.class.name} #{@topic}[#{@partition}] via #{@brokers.join(',')}#{closed? ? ' closed' : ''}>"
    end

    private

    def setup(client_id, brokers, topic, partition, offset, options)
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      unknown = options.keys - OPTIONS
      raise ArgumentError, "Unknown options: #{unknown.inspect}" if unknown.any?

      @client_id = Kafkette.check_string(client_id, "client_id")
      @topic = Kafkette.check_string(topic, "topic")
      raise ArgumentError, "topic must not be empty" if topic.empty?

      @partition = Kafkette.check_int(partition, "partition", 0..0x7fff_ffff)
      @brokers = brokers
      @host, port = brokers.first.match(/\A\[?(.*?)\]?:(\d+)\z/).captures
      @port = Integer(port, 10)
      kind, value = offset_spec(offset)
      _setup(brokers.join(","), @client_id, @topic, @partition, kind, value, native_options(options))
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

    def native_options(options)
      native = {}
      options.each do |name, value|
        next if Kafkette.connection_option(name, value, native)

        case name
        when :offset_reset
          raise ArgumentError, "offset_reset must be :earliest, :latest or :error" unless OFFSET_RESETS.key?(value)

          native[:offset_reset] = OFFSET_RESETS[value]
        when :read_committed
          native[name] = value ? true : false
        when :max_bytes
          native[name] = Kafkette.check_int(value, name.to_s, 1..0x7fff_ffff)
        else
          native[name] = Kafkette.check_int(value, name.to_s, 0..0x7fff_ffff)
        end
      end
      native
    end
  end
end
