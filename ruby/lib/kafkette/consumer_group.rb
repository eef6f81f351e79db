# frozen_string_literal: true

module Kafkette
  # A member of a consumer group: co-operating processes share the partitions of one or more
  # topics, each partition read by one member at a time, and progress is committed to the
  # group's coordinator (a broker: no ZooKeeper) so a replacement starts where the last owner
  # stopped. The shape of poseidon_cluster's ConsumerGroup:
  #
  #     group = Kafkette::ConsumerGroup.new("my-group", ["localhost:9092"], "events")
  #     group.fetch_loop do |partition, messages|
  #       messages.each { |m| puts "#{partition}@#{m.offset}: #{m.value}" }
  #     end                                  # commits after each block; runs until #close
  #
  # topics: a String or an Array of Strings (existing topics). With several topics, #claimed
  # and the rebalance callbacks use [topic, partition] pairs, #commit takes the topic, and each
  # FetchedMessage's #topic says where a batch came from.
  #
  # Options:
  # :assignor:: :range (default) or :roundrobin (the standard names, so Java and librdkafka
  #             consumers can share the group)
  # :session_timeout_ms:: a member silent this long is dead (10_000; brokers accept >= 6_000)
  # :rebalance_timeout_ms:: how long a rebalance waits for members to rejoin (30_000); a member
  #                         rejoins in its next #fetch, so one block must not take longer
  # :heartbeat_interval_ms:: (3_000) heartbeats go on in the background while a block runs
  # :auto_commit_interval_ms:: 0 (default): only #fetch(commit: true) and #commit commit.
  #                            Otherwise the offsets #fetch returned are committed this often
  #                            and before partitions are given up (rebalance, #close)
  # :trail:: true: a partition without a committed offset starts at its end (only new records);
  #          default false: at its beginning
  # :max_bytes:: per fetch (1_048_576); :max_wait_ms:: per fetch (100)
  # :client_id::, :socket_timeout_ms:: (30_000), :connect_timeout_ms:: (10_000),
  # :metadata_refresh_interval_ms:: partition counts are re-checked this often (10_000),
  # :retry_backoff_ms:: (200), :max_api_versions:: {api_key => version} caps
  # :on_assign:: callable given the partitions claimed after a rebalance
  # :on_revoke:: callable given the partitions given up
  #
  # Rebalance callbacks are called with the GVL, right after the #fetch (or #close) during
  # which the rebalance happened returned, not in the middle of it: the core runs the
  # rebalance without the GVL. So on_revoke comes once the partitions are already given up:
  # a #commit there raises Errors::NotAssignedError. Commit in the fetch block instead
  # (fetch(commit: true) does), or set :auto_commit_interval_ms, which makes the core commit
  # everything fetched before it gives partitions up.
  #
  # Delivery is at least once: records after the last commit are delivered again to the next
  # owner of their partition.
  #
  # A group is for one thread at a time; #close from another thread (or a signal handler)
  # stops a waiting #fetch, and the member leaves the group cleanly.
  class ConsumerGroup
    include Enumerable

    OPTIONS = %i[
      assignor session_timeout_ms rebalance_timeout_ms heartbeat_interval_ms
      auto_commit_interval_ms trail max_bytes max_wait_ms client_id socket_timeout_ms
      connect_timeout_ms metadata_refresh_interval_ms retry_backoff_ms max_api_versions
      on_assign on_revoke
    ].freeze
    ASSIGNORS = %w[range roundrobin].freeze
    # How long one #fetch waits for messages by default.
    DEFAULT_FETCH_TIMEOUT_MS = 1_000

    attr_reader :name, :brokers, :topics, :options

    def initialize(name, brokers, topics, options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      unknown = options.keys - OPTIONS
      raise ArgumentError, "Unknown options: #{unknown.inspect}" if unknown.any?

      @name = Kafkette.check_string(name, "group name").dup.freeze
      raise ArgumentError, "the group name must not be empty" if @name.empty?

      @brokers = Kafkette.broker_list(brokers)
      @topics = topic_list(topics)
      @options = options.dup.freeze
      @on_assign = callback(options, :on_assign)
      @on_revoke = callback(options, :on_revoke)
      _setup(@brokers.join(","), @name, @topics, native_options(options))
    end

    # The topic of a single-topic group.
    def topic
      @topics.first
    end

    # Joins the group (or completes a rebalance) now instead of in the first #fetch; raises
    # Errors::UnknownTopicOrPartition when a subscribed topic does not exist.
    def join(timeout_ms: 30_000)
      with_events { _join(timeout_ms) }
      self
    end

    # Fetches one batch (messages of one claimed partition) and yields it as
    # (partition, [FetchedMessage, ...]). With commit: true (the default) the batch's offsets
    # are committed after the block returns; if the partition was given up meanwhile (the
    # group rebalanced), that commit is skipped and the new owner gets the batch again.
    # Returns true when a batch was processed, false when none arrived within timeout_ms (or
    # #close, from another thread or a signal handler, stopped the wait).
    # Without a block, returns [partition, messages] (or nil) and commits nothing.
    def fetch(commit: true, timeout_ms: DEFAULT_FETCH_TIMEOUT_MS)
      raise Errors::ClosedError, "the consumer group is closed" if closed?

      begin
        result = with_events { _poll(timeout_ms) }
      rescue Errors::ClosedError
        raise unless closed?

        return block_given? ? false : nil # closed by another thread or a signal handler meanwhile
      end
      return result && result.drop(1) unless block_given?
      return false if result.nil?

      topic, partition, messages = result
      yield partition, messages
      commit_batch(topic, partition, messages) if commit && !messages.empty? && !closed?
      true
    end

    # Fetches and yields batches, as #fetch does, until #close (from the block, another thread
    # or a signal handler). Options: :commit (true), :timeout_ms (per fetch).
    def fetch_loop(options = {}, &block)
      raise ArgumentError, "fetch_loop needs a block" unless block

      unknown = options.keys - %i[commit timeout_ms]
      raise ArgumentError, "Unknown options: #{unknown.inspect}" if unknown.any?

      commit = options.fetch(:commit, true)
      timeout_ms = options.fetch(:timeout_ms, DEFAULT_FETCH_TIMEOUT_MS)
      fetch(commit: commit, timeout_ms: timeout_ms, &block) until closed?
      self
    end

    # Yields [partition, messages] for every batch until #close, committing after each (as
    # fetch_loop). Without a block, an Enumerator.
    def each
      return enum_for(:each) unless block_given?

      fetch_loop { |partition, messages| yield [partition, messages] }
    end

    # Commits `offset` (the next offset to read: last processed + 1) for a claimed partition:
    # commit(partition, offset), or commit(topic, partition, offset) in a multi-topic group.
    # Without arguments, commits everything fetched so far on every claimed partition. Raises
    # Errors::NotAssignedError for a partition this member does not (or no longer) own.
    # An offset at or below the last commit is not sent: commits never go backwards.
    def commit(*args)
      case args.size
      when 0 then with_events { _commit_consumed }
      when 2 then with_events { _commit(single_topic("commit(partition, offset)"), *args) }
      when 3 then with_events { _commit(*args) }
      else raise ArgumentError, "wrong number of arguments (given #{args.size}, expected 0, 2 or 3)"
      end
    end

    # The group's committed offset for a partition (owned or not), nil when none.
    def committed_offset(*args)
      case args.size
      when 1 then _committed(single_topic("committed_offset(partition)"), args[0])
      when 2 then _committed(*args)
      else raise ArgumentError, "wrong number of arguments (given #{args.size}, expected 1 or 2)"
      end
    end

    # The partitions this member owns: partition numbers for a single-topic group, else
    # [topic, partition] pairs. Empty before the first join and after #close.
    def claimed
      list = _claimed
      @topics.size == 1 ? list.map(&:last) : list
    end

    # Every partition of the subscribed topic (single topic: numbers; several: pairs).
    def partitions
      counts = _partition_counts(@topics)
      pairs = @topics.flat_map do |t|
        code, count = counts.fetch(t)
        raise Errors.build(code, "topic #{t}: #{Native.error_name(code)}") unless code.zero?

        Array.new(count) { |i| [t, i] }
      end
      @topics.size == 1 ? pairs.map(&:last) : pairs
    end

    # Leaves the group: commits what was fetched (with auto-commit), calls on_revoke, sends
    # LeaveGroup so the others take over at once. Safe to call twice, and from another thread
    # while a fetch waits (that fetch_loop then ends).
    def close
      with_events { _close }
      nil
    end

    def inspect
      "#<#{self.class.name} #{@name} #{@topics.join(',')} via #{@brokers.join(',')}#{closed? ? ' closed' : ''}>"
    end

    private

    def topic_list(topics)
      list = topics.is_a?(String) ? [topics] : topics
      raise TypeError, "topics must be a String or an Array of Strings, not #{topics.class}" unless list.is_a?(Array)
      raise ArgumentError, "the topic list is empty" if list.empty?

      list.map do |t|
        Kafkette.check_string(t, "topic")
        raise ArgumentError, "topic names must not be empty" if t.empty?

        t.dup.freeze
      end.uniq.freeze
    end

    def callback(options, name)
      cb = options[name]
      return nil if cb.nil?
      raise TypeError, "#{name} must respond to #call" unless cb.respond_to?(:call)

      cb
    end

    def single_topic(what)
      return @topics.first if @topics.size == 1

      raise ArgumentError, "#{what} is for a single-topic group; name the topic: #{what.sub('(', '(topic, ')}"
    end

    def commit_batch(topic, partition, messages)
      with_events { _commit(topic, partition, messages.last.offset + 1) }
    rescue Errors::NotAssignedError
      nil # given up in a rebalance meanwhile: the next owner starts at the last commit
    end

    # Runs a native call, then hands the rebalance events it produced to the callbacks (also
    # when it raised).
    def with_events
      yield
    ensure
      deliver_events
    end

    def deliver_events
      _take_events.each do |kind, parts|
        cb = kind == :assign ? @on_assign : kind == :revoke ? @on_revoke : nil
        next if cb.nil?

        cb.call(@topics.size == 1 ? parts.map(&:last) : parts)
      end
    end

    def native_options(options)
      native = {}
      options.each do |name, value|
        next if Kafkette.connection_option(name, value, native)

        case name
        when :assignor
          assignor = value.to_s
          raise ArgumentError, "Unknown assignor #{value.inspect} (known: :range, :roundrobin)" unless ASSIGNORS.include?(assignor)

          native[:assignor] = assignor
        when :trail
          native[:start_latest] = value ? true : false
        when :client_id
          native[:client_id] = Kafkette.check_string(value, "client_id")
        when :on_assign, :on_revoke
          next
        when :auto_commit_interval_ms, :max_wait_ms, :retry_backoff_ms
          native[name] = Kafkette.check_int(value, name.to_s, 0..0x7fff_ffff)
        else
          native[name] = Kafkette.check_int(value, name.to_s, 1..0x7fff_ffff)
        end
      end
      native
    end
  end
end
