# frozen_string_literal: true

module Kafkette
  # Sends batches of MessageToSend synchronously.
  #
  #     producer = Kafkette::Producer.new(["localhost:9092"], "my_producer", compression_codec: :zstd)
  #     producer.send_messages([Kafkette::MessageToSend.new("events", "hello", "key")])  # => true
  #
  # Options (Poseidon's names, plus the core's other settings):
  # :type:: :sync (the only kind)
  # :compression_codec:: :none (default), :gzip, :snappy, :lz4, :zstd
  # :compressed_topics:: only these topics are compressed (default: all, when a codec is set)
  # :partitioner:: where keyed messages go: :murmur2 (default: the Java client's rule), :crc32
  #                (Poseidon's rule), or any object responding to call(key, partition_count)
  # :required_acks:: -1 / :all (default), 1 or 0 (no response; offsets stay nil)
  # :ack_timeout_ms:: how long the broker may wait for replicas (1500)
  # :max_send_retries:: retries of retriable failures (3); :retry_backoff_ms:: pause before each (100)
  # :metadata_refresh_interval_ms:: metadata older than this is refreshed (600_000)
  # :socket_timeout_ms:: deadline of one request (30_000); :connect_timeout_ms:: of a connect (10_000)
  # :max_request_bytes:: larger sends are split (1_048_576); :topic_wait_ms:: how long to wait
  #   for an auto-created topic (10_000); :max_response_bytes:: (100 MiB);
  # :allow_auto_topic_creation:: (true); :max_api_versions:: {api_key => version} caps
  #
  # A Producer is for one thread at a time (another thread's call raises ThreadError); #close
  # from another thread stops a send that is waiting.
  class Producer
    OPTIONS = %i[
      type compression_codec compressed_topics metadata_refresh_interval_ms partitioner
      max_send_retries retry_backoff_ms required_acks ack_timeout_ms socket_timeout_ms
      connect_timeout_ms max_request_bytes topic_wait_ms max_response_bytes
      allow_auto_topic_creation max_api_versions
    ].freeze

    CODECS = {
      nil => Native::CODEC_NONE, none: Native::CODEC_NONE, gzip: Native::CODEC_GZIP,
      snappy: Native::CODEC_SNAPPY, lz4: Native::CODEC_LZ4, zstd: Native::CODEC_ZSTD
    }.freeze

    PARTITIONERS = { murmur2: Native::PARTITIONER_MURMUR2, crc32: Native::PARTITIONER_CRC32 }.freeze

    attr_reader :brokers, :client_id, :options

    def initialize(brokers, client_id, options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      unknown = options.keys - OPTIONS
      raise ArgumentError, "Unknown options: #{unknown.inspect}" if unknown.any?

      @brokers = Kafkette.broker_list(brokers)
      @client_id = Kafkette.check_string(client_id, "client_id")
      @options = options.dup.freeze
      @partitioner = nil
      @partition_counts = {}
      native = native_options(options)
      _setup(@brokers.join(","), @client_id, native)
      @refresh_ms = native[:metadata_refresh_interval_ms] || 600_000
      @topic_wait_ms = native[:topic_wait_ms] || 10_000
      @retry_backoff_ms = native[:retry_backoff_ms] || 100
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

      _send(list, @partitioner ? choose_partitions(list) : nil)
    end

    # Closes the connections; later sends raise ProducerShutdownError. Safe to call twice, and
    # from another thread while a send waits (that send then raises ProducerShutdownError).
    def shutdown
      close
    end

    def inspect
      "#<#{self.class.name} brokers=#{@brokers.join(',')} client_id=#{@client_id.inspect}#{closed? ? ' closed' : ''}>"
    end

    private

    def native_options(options)
      native = {}
      options.each do |name, value|
        next if Kafkette.connection_option(name, value, native)

        case name
        when :type
          raise ArgumentError, "type must be :sync (kafkette has only the synchronous producer)" unless value == :sync
        when :compression_codec
          key = value.is_a?(String) ? value.downcase.to_sym : value
          raise ArgumentError, "Unknown compression codec #{value.inspect}" unless CODECS.key?(key)

          native[:compression] = CODECS[key]
        when :compressed_topics
          next if value.nil?
          raise ArgumentError, "compressed_topics must respond to #each" unless value.respond_to?(:each)

          native[:compressed_topics] = value.map { |t| Kafkette.check_string(t, "compressed topic") }
        when :partitioner
          if value.nil?
            next
          elsif PARTITIONERS.key?(value)
            native[:partitioner] = PARTITIONERS[value]
          elsif value.respond_to?(:call)
            @partitioner = value
          else
            raise ArgumentError, "partitioner must be :murmur2, :crc32 or respond to #call"
          end
        when :required_acks
          value = -1 if value == :all
          raise ArgumentError, "required_acks must be -1 (:all), 0 or 1, not #{value.inspect}" unless [-1, 0, 1].include?(value)

          native[:required_acks] = value
        when :allow_auto_topic_creation
          native[name] = value ? true : false
        when :max_request_bytes
          native[name] = Kafkette.check_int(value, name.to_s, 1024..0x7fff_ffff)
        else
          native[name] = Kafkette.check_int(value, name.to_s, 0..0x7fff_ffff)
        end
      end
      native
    end

    # A Ruby partitioner runs here, with the GVL, before the send: the core then gets an
    # explicit partition for each keyed message. Poseidon raised InvalidPartitionError for an
    # answer out of range, before sending anything; so does this.
    def choose_partitions(list)
      topics = nil
      list.each do |m|
        raise TypeError, "messages must be Kafkette::MessageToSend objects, not #{m.class}" unless m.is_a?(MessageToSend)
        next if m.key.nil? || !m.requested_partition.nil?

        (topics ||= {})[m.topic] = true
      end
      return nil if topics.nil?

      counts = partition_counts(topics.keys)
      list.map do |m|
        next nil if m.key.nil? || !m.requested_partition.nil?

        count = counts.fetch(m.topic)
        chosen = @partitioner.call(m.key, count)
        unless chosen.is_a?(Integer) && chosen >= 0 && chosen < count
          raise Errors::InvalidPartitionError,
                "partitioner (#{@partitioner.inspect}) requested #{chosen.inspect} while only #{count} partitions exist"
        end

        chosen
      end
    end

    # Partition counts, cached for metadata_refresh_interval_ms; waits up to topic_wait_ms for
    # a topic that is being created.
    def partition_counts(topics)
      now = monotonic_ms
      stale = topics.reject { |t| (entry = @partition_counts[t]) && now - entry[1] < @refresh_ms }
      deadline = now + @topic_wait_ms
      until stale.empty?
        _partition_counts(stale).each do |topic, (code, count)|
          if code.zero? && count.positive?
            @partition_counts[topic] = [count, monotonic_ms]
            stale.delete(topic)
          elsif ![3, 5].include?(code) || monotonic_ms >= deadline # not "being created"
            raise Errors.build(code.zero? ? 5 : code, "metadata for topic #{topic}: #{Native.error_name(code.zero? ? 5 : code)}")
          end
        end
        sleep(@retry_backoff_ms / 1000.0) unless stale.empty?
      end
      topics.to_h { |t| [t, @partition_counts[t][0]] }
    end

    def monotonic_ms
      Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
    end
  end
end
