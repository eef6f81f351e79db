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
  # Options: the "Every object" and "ConsumerGroup" tables of docs/CONFIGURATION.md (the core
  # checks them and raises Errors::InvalidArgumentError with its message), among them
  # :assignor (:range or :roundrobin), :trail, :auto_commit_interval_ms, and the callables
  # :on_assign and :on_revoke, given the partitions (numbers for a single-topic group, else
  # [topic, partition] pairs). The core calls them from inside the #fetch, #join or #close
  # during which the group rebalances, on the calling thread: on_revoke while the partitions
  # are still owned, so a #commit there succeeds; on_assign once the new ones are claimed. What
  # a callback raises is raised by that call once the rebalance has completed
  # (docs/BINDINGS.md, "Threads, close and callbacks").
  #
  # Delivery is at least once: records after the last commit are delivered again to the next
  # owner of their partition.
  #
  # Calls from several threads take turns; #close from another thread (or a signal handler)
  # stops a waiting #fetch, and the member leaves the group cleanly.
  class ConsumerGroup
    include Enumerable

    # How long one #fetch waits for messages by default.
    DEFAULT_FETCH_TIMEOUT_MS = 1_000

    attr_reader :name, :brokers, :topics, :options

    def initialize(name, brokers, topics, options = {})
      raise TypeError, "options must be a Hash, not #{options.class}" unless options.is_a?(Hash)

      @name = Kafkette.check_string(name, "group name").dup.freeze
      raise ArgumentError, "the group name must not be empty" if @name.empty?

      @brokers = brokers
      @topics = topic_list(topics)
      @options = options.dup.freeze
      _setup(brokers, @name, @topics, options)
    end

    # The topic of a single-topic group.
    def topic
      @topics.first
    end

    # Joins the group (or completes a rebalance) now instead of in the first #fetch; raises
    # Errors::UnknownTopicOrPartition when a subscribed topic does not exist.
    def join(timeout_ms: 30_000)
      _join(timeout_ms)
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
        result = _poll(timeout_ms)
      rescue Errors::ClosedError
        raise unless closed?

        return block_given? ? false : nil # closed by another thread or a signal handler meanwhile
      end
      return result&.drop(1) unless block_given?
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
      when 0 then _commit_consumed
      when 2 then _commit(single_topic("commit(partition, offset)"), *args)
      when 3 then _commit(*args)
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

    # Stops fetching a claimed partition (the member keeps it) until #resume: pause(partition),
    # or pause(topic, partition) in a multi-topic group. Raises Errors::NotAssignedError for a
    # partition this member does not own. A partition the member keeps through a rebalance stays
    # paused. May be called from on_assign/on_revoke.
    def pause(*args)
      _partition_op(0, *partition_args("pause", args), 0)
    end

    # Fetches a paused partition again: resume(partition) or resume(topic, partition).
    def resume(*args)
      _partition_op(1, *partition_args("resume", args), 0)
    end

    # The next fetch of a claimed partition starts at `offset` (nothing is committed):
    # seek(partition, offset) or seek(topic, partition, offset). Kept through a rebalance that
    # leaves the partition with this member, until a batch from there was fetched.
    def seek(*args)
      case args.size
      when 2 then _partition_op(2, single_topic("seek(partition, offset)"), *args)
      when 3 then _partition_op(2, *args)
      else raise ArgumentError, "wrong number of arguments (given #{args.size}, expected 2 or 3)"
      end
      nil
    end

    # The paused partitions, listed as #claimed lists them.
    def paused
      list = _paused
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
      _close
      nil
    end

    def inspect
      "#<#{self.class.name} #{@name} #{@topics.join(',')} via #{Array(@brokers).join(',')}#{closed? ? ' closed' : ''}>"
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

    def single_topic(what)
      return @topics.first if @topics.size == 1

      raise ArgumentError, "#{what} is for a single-topic group; name the topic: #{what.sub('(', '(topic, ')}"
    end

    def partition_args(what, args)
      case args.size
      when 1 then [single_topic("#{what}(partition)"), args[0]]
      when 2 then args
      else raise ArgumentError, "wrong number of arguments (given #{args.size}, expected 1 or 2)"
      end
    end

    def commit_batch(topic, partition, messages)
      _commit(topic, partition, messages.last.offset + 1)
    rescue Errors::NotAssignedError
      nil # given up in a rebalance meanwhile: the next owner starts at the last commit
    end
  end
end
