# frozen_string_literal: true

module Kafkette
  # Sends batches of MessageToSend synchronously (#send_messages), or one message at a time
  # asynchronously (#produce, with a DeliveryHandle and an optional block per message). With
  # type: :async, #send_messages queues its messages like #produce and returns at once.
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
    #
    # With type: :async it checks every message (raising before any is queued), raises what
    # earlier async sends failed to deliver (see #raise_send_failures; then this list is not
    # queued), queues the messages and returns true at once. Each message's #partition,
    # #offset and #error_code are filled when its report is served (by #poll, #flush, #close,
    # a later send_messages or produce). If the core refuses one (a full buffer after
    # max_block_ms, a bad topic name), the error is raised with that message and the later ones
    # as #failed_messages: those were not queued, the earlier ones were.
    def send_messages(messages)
      raise Errors::ProducerShutdownError, "the producer is shut down" if closed?
      raise ArgumentError, "messages must respond to #each" unless messages.respond_to?(:each)

      list = messages.is_a?(Array) ? messages : messages.to_a
      return send_queued(list) if _async?
      return nil if list.empty?

      _send(list)
    end

    # Queues one message and returns at once with a DeliveryHandle (waiting up to max_block_ms,
    # then raising the QUEUE_FULL error's class, while buffer_memory is full). Every message
    # queued gets exactly one DeliveryReport: delivered, failed, or purged by #close. The block,
    # if any, is called with it on the calling thread, during a later produce, #poll, #flush,
    # #close or DeliveryHandle#wait of this producer; never from the core's thread. What a block
    # raises is raised by that call once the other blocks have run.
    def produce(topic, value, key: nil, partition: nil, headers: nil, timestamp_ms: nil, &block)
      handle = _produce(topic, value, key, partition.nil? ? -1 : partition, headers, timestamp_ms || 0, block, nil)
      serve(0)
      handle
    end

    # Serves the reports that wait, waiting up to timeout seconds (nil: without limit) for the
    # first one when none does. Returns how many it served; raises what async send_messages
    # failed to deliver.
    def poll(timeout: 0)
      served =
        if timeout != 0 && (io = scheduler_io)
          io.wait_readable(timeout) if in_flight.positive? && serve(0).zero?
          serve(0) # what the wait made ready (0 when nothing did)
        else
          serve(timeout)
        end
      raise_send_failures
      served
    end

    # Sends what lingers and serves reports until every message has its report or timeout
    # seconds passed (nil: without limit). Returns how many messages still have none; raises
    # what async send_messages failed to deliver.
    def flush(timeout: nil)
      left = flush_reports(timeout)
      raise_send_failures
      left
    end

    # Flushes (up to timeout seconds; nil: until every report came), purges what is left (those
    # reports carry Errors::ClosedError, the PURGED code's class), serves every report, then
    # closes the connections; later calls raise ProducerShutdownError. Safe to call twice, and
    # from another thread while a call waits (that call then raises ProducerShutdownError, and
    # the handles of messages still queued are settled as purged without calling their blocks).
    # Raises last what async send_messages failed to deliver, purged messages included (a
    # block's exception is then its #cause).
    def close(timeout: nil)
      begin
        close_engine(timeout) unless closed? || _busy?
      rescue Exception # rubocop:disable Lint/RescueException -- raised again below
        _close
        raise_send_failures # inside this rescue: the block's exception becomes its #cause
        raise
      end
      _close
      raise_send_failures
    end

    def shutdown
      close
    end

    private

    WAIT_SLICE = 0.1
    PARTIAL_FAILURE = -119 # the core's KK_ERR_PARTIAL_FAILURE

    # type: :async send_messages (docs/BINDINGS.md, "type async").
    def send_queued(list)
      _check_messages(list)
      serve(0)
      raise_send_failures
      return nil if list.empty?

      list.each_with_index do |m, i|
        _produce(m.topic, m.value, m.key, m.requested_partition || -1, m.headers, m.timestamp || 0, nil, m)
      rescue Errors::Error => e
        e.instance_variable_set(:@failed_messages, list[i..]) # not queued; the earlier ones were
        raise
      end
      true
    end

    # Raises the messages async send_messages failed to deliver, reported since the last raise
    # (already logged when served), as a sync send_messages of them would have: FailedToSendMessages
    # when some messages were delivered meanwhile, else the first error's class.
    def raise_send_failures
      failed, delivered = _take_send_failures
      return if failed.nil?

      first = failed.first
      code = delivered.positive? ? PARTIAL_FAILURE : first.error_code
      error = Errors.build(code, "#{failed.size} of #{failed.size + delivered} messages sent asynchronously not " \
                                 "delivered; first (topic #{first.topic}, partition #{first.partition.inspect}): " \
                                 "#{first.error.message}")
      error.instance_variable_set(:@failed_messages, failed)
      raise error
    end

    # flush without raising send failures (close_engine must go on to purge and serve).
    def flush_reports(timeout)
      deadline = timeout && (now + timeout)
      loop do
        serve(0)
        break if in_flight.zero?

        left = deadline && (deadline - now)
        break if left && left <= 0

        if (io = scheduler_io)
          _flush_wait(0) # sends without linger_ms, returns at once
          io.wait_readable(left ? [left, WAIT_SLICE].min : WAIT_SLICE)
        else
          _flush_wait(to_ms(left))
        end
      end
      in_flight
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def to_ms(seconds)
      return -1 if seconds.nil?
      raise ArgumentError, "timeout must not be negative" if seconds.negative?

      [(seconds * 1000).ceil, (2**31) - 1].min
    end

    # Drains reports (waiting up to timeout seconds for the first one), then calls their blocks
    # here, outside the producer's lock, so a block may produce again.
    def serve(timeout)
      served = []
      count = _drain(timeout.zero? ? 0 : to_ms(timeout), served)
      first_error = nil
      served.each do |block, report|
        block.call(report)
      rescue Exception => e # rubocop:disable Lint/RescueException -- raised below, once every block ran
        first_error ||= e
      end
      raise first_error if first_error

      count
    end

    # Waits until the handle has its report or timeout seconds passed, serving reports meanwhile.
    def await(handle, timeout)
      deadline = timeout && (now + timeout)
      until handle.done?
        left = deadline && (deadline - now)
        break if left && left <= 0

        slice = left ? [left, WAIT_SLICE].min : WAIT_SLICE
        if (io = scheduler_io)
          serve(0)
          io.wait_readable(slice) unless handle.done?
        else
          serve(slice) # another thread may take the report: wait in slices
        end
      end
    end

    # Whatever a block (or an interrupt) raises, every report is still served before it is
    # raised again.
    def close_engine(timeout)
      error = nil
      begin
        flush_reports(timeout)
      rescue Errors::ProducerShutdownError
        return # closed meanwhile from another thread
      rescue Exception => e # rubocop:disable Lint/RescueException -- raised below
        error = e
      end
      _close_engine(0) # purges what is left; every report is queued now
      loop do
        break if serve(0).zero?
      rescue Exception => e # rubocop:disable Lint/RescueException -- raised below
        error ||= e
      end
      raise error if error
    end

    # An IO on the core's event fd when a non-blocking Fiber scheduler runs this fiber: waits
    # then go through the scheduler (IO#wait_readable) instead of blocking the thread in C.
    def scheduler_io
      return nil unless Fiber.scheduler && !Fiber.current.blocking?

      _event_io || (self._event_io = IO.for_fd(_event_fd, autoclose: false))
    end

    public

    def inspect
      "#<#{self.class.name} brokers=#{Array(@brokers).join(',')} client_id=#{@client_id.inspect}#{closed? ? ' closed' : ''}>"
    end
  end
end

module Kafkette
  # What became of a produced message: topic, partition and offset (nil when it never got that
  # far, or with required_acks 0), the record's timestamp_ms, and error (nil, or the exception
  # of the message's error code: Errors.build).
  class DeliveryReport
    def delivered?
      error.nil?
    end
  end

  # Returned by Producer#produce: #done? once its report was served, #wait for it.
  class DeliveryHandle
    # Serves reports of the producer until this one came (at most timeout seconds; nil: without
    # limit) and returns it, or raises its error; Errors::TimedOutError when time ran out.
    def wait(timeout: nil)
      producer.__send__(:await, self, timeout) unless done?
      r = report
      raise Errors.build(TIMED_OUT, "no delivery report within #{timeout} s") unless r
      raise r.error if r.error

      r
    end

    TIMED_OUT = -100 # the core's KK_ERR_TIMED_OUT
    private_constant :TIMED_OUT

    def inspect
      "#<#{self.class.name} topic=#{topic.inspect} #{done? ? report.inspect : 'pending'}>"
    end
  end
end
